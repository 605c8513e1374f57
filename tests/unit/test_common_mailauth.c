/* Unit tests: inbound authentication of a transaction (SPF + DKIM + DMARC),
 * policy actions and the Authentication-Results header; messages signed by
 * dkimpy, records served by a real dnsmasq. */
#include "common/dkim.h"
#include "common/dmarc.h"
#include "common/dns.h"
#include "common/mailauth.h"
#include "common/util.h"
#include "tests/unit/check.h"
#include "tests/unit/testdns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOST "mx.example.test"

static char *tmpfile_with(const char *name, const char *text)
{
	char *p = xasprintf("%s/%s", check_tmpdir(), name);
	FILE *f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
	return p;
}

static char *sign_with_dkimpy(const char *key, const char *msg)
{
	char *in = tmpfile_with("in.eml", msg), *out = xasprintf("%s/out.eml", check_tmpdir());
	char *cmd = xasprintf("/usr/bin/python3 tests/unit/dkim_sign_ref.py %s a.test sel %s %s",
			      key, in, out);
	char *res = NULL;
	if (system(cmd) == 0) {
		FILE *f = fopen(out, "r");
		res = xcalloc(1, 65536);
		if (fread(res, 1, 65535, f) == 0)
			res[0] = '\0';
		fclose(f);
	}
	free(cmd); free(in); free(out);
	return res;
}


static enum mailauth_action run(const char *ip, const char *mfrom, const char *msg,
				const struct mailauth_policy *p, char **hdr, char *reply)
{
	struct mailauth *m = mailauth_begin(HOST, ip, "client.test", mfrom);
	size_t n = strlen(msg);
	/* Feed in uneven pieces, as the network delivers it. */
	for (size_t off = 0; off < n; off += 7)
		mailauth_feed(m, msg + off, n - off < 7 ? n - off : 7);
	enum mailauth_action a = mailauth_finish(m, p, hdr, reply, 256);
	mailauth_free(m);
	return a;
}

static const char *plain_a =
	"From: Alice <alice@a.test>\r\nTo: bob@example.test\r\nSubject: hi\r\n"
	"Date: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: <x@a.test>\r\n\r\nbody\r\n";

static void test_actions(const char *key)
{
	struct mailauth_policy pol = { 0 };
	char reply[256], *h;
	char *signed_msg = sign_with_dkimpy(key, plain_a);
	CHECK(signed_msg != NULL);

	/* SPF fails (wrong IP) but the aligned DKIM signature passes: DMARC pass. */
	CHECK(run("192.0.2.9", "alice@a.test", signed_msg, &pol, &h, reply) == MA_ACCEPT);
	CHECK(!strncmp(h, "Authentication-Results: " HOST ";\r\n\tspf=fail smtp.mailfrom=alice@a.test;"
			  "\r\n\tspf=none smtp.helo=client.test;", 105));
	CHECK(strstr(h, "dkim=pass header.d=a.test header.s=sel header.b=") != NULL);
	CHECK(strstr(h, "dmarc=pass (p=reject dis=none) header.from=a.test\r\n") != NULL);
	free(h);

	/* Unsigned, SPF fail, p=reject: 550 at end of DATA. */
	CHECK(run("192.0.2.9", "alice@a.test", plain_a, &pol, &h, reply) == MA_REJECT);
	CHECK(!strncmp(reply, "550 5.7.1 ", 10));
	CHECK(strstr(h, "dkim=none") && strstr(h, "dmarc=fail (p=reject dis=reject)"));
	free(h);

	/* SPF pass alone is enough. */
	CHECK(run("192.0.2.1", "alice@a.test", plain_a, &pol, &h, reply) == MA_ACCEPT);
	CHECK(strstr(h, "spf=pass") && strstr(h, "dmarc=pass"));
	free(h);

	/* A local override softens the reject. */
	char *ov[] = { "a.test=none" };
	struct mailauth_policy soft = { .overrides = ov, .noverrides = 1 };
	CHECK(run("192.0.2.9", "alice@a.test", plain_a, &soft, &h, reply) == MA_ACCEPT);
	free(h);

	/* Body altered after signing: dkim=fail, and DMARC fails. */
	char *bad = xstrdup(signed_msg);
	char *b = strstr(bad, "\r\n\r\nbody");
	b[4] = 'B';
	CHECK(run("192.0.2.9", "alice@a.test", bad, &pol, &h, reply) == MA_REJECT);
	CHECK(strstr(h, "dkim=fail") != NULL);
	free(h);
	free(bad);

	/* p=quarantine. */
	const char *q = "From: q@q.test\r\nSubject: q\r\n\r\nbody\r\n";
	CHECK(run("192.0.2.9", "q@q.test", q, &pol, &h, reply) == MA_QUARANTINE);
	free(h);

	/* Two From fields: DMARC cannot be evaluated (permerror), not rejected. */
	const char *two = "From: a@a.test\r\nFrom: b@q.test\r\n\r\nx\r\n";
	CHECK(run("192.0.2.9", "a@a.test", two, &pol, &h, reply) == MA_ACCEPT);
	CHECK(strstr(h, "dmarc=permerror") != NULL);
	free(h);

	/* SPF at MAIL FROM: recorded by default, refused when the site says so. */
	struct mailauth *m = mailauth_begin(HOST, "192.0.2.9", "client.test", "alice@a.test");
	CHECK(mailauth_spf_action(m, &pol, reply, sizeof reply) == MA_ACCEPT);
	struct mailauth_policy strict = { .spf_reject = true };
	CHECK(mailauth_spf_action(m, &strict, reply, sizeof reply) == MA_REJECT);
	CHECK(!strncmp(reply, "550 5.7.23 ", 11));
	/* Per sender domain: spf_overrides wins over spf_fail_reject both ways. */
	char *mark[] = { "other.test=reject", "A.TEST=mark" };
	struct mailauth_policy marked = { .spf_reject = true, .spf_overrides = mark,
					  .nspf_overrides = 2 };
	CHECK(mailauth_spf_action(m, &marked, reply, sizeof reply) == MA_ACCEPT);
	char *rej[] = { "a.test=reject" };
	struct mailauth_policy rejected = { .spf_overrides = rej, .nspf_overrides = 1 };
	CHECK(mailauth_spf_action(m, &rejected, reply, sizeof reply) == MA_REJECT);
	char *sub[] = { "x.a.test=reject", "test=reject" };	/* other domains only */
	struct mailauth_policy others = { .spf_overrides = sub, .nspf_overrides = 2 };
	CHECK(mailauth_spf_action(m, &others, reply, sizeof reply) == MA_ACCEPT);
	mailauth_free(m);	/* freed without finish: no leak */
	free(signed_msg);
}

static void test_forged(void)
{
	const char *f1 = "Authentication-Results: mx.example.test; spf=pass smtp.mailfrom=x@y";
	const char *f2 = "authentication-results:\r\n\t(by us) MX.EXAMPLE.TEST;\r\n\tdkim=pass";
	const char *f3 = "Authentication-Results: other.test; spf=pass";
	const char *f4 = "Authentication-Results: mx.example.test.evil; spf=pass";
	const char *f5 = "Received: from mx.example.test";
	CHECK(mailauth_is_forged(f1, strlen(f1), HOST, true));
	CHECK(mailauth_is_forged(f2, strlen(f2), HOST, true));
	CHECK(!mailauth_is_forged(f3, strlen(f3), HOST, true));
	CHECK(!mailauth_is_forged(f4, strlen(f4), HOST, true));
	CHECK(!mailauth_is_forged(f5, strlen(f5), HOST, true));
}

/* The DMARC record cannot be fetched now: never a reject; 451 only when the
 * site says defer. */
static void test_temperror(void)
{
	const char *msg = "From: x@t.test\r\nSubject: t\r\n\r\nbody\r\n";
	struct mailauth_policy accept = { 0 }, defer = { .temperror_defer = true };
	char reply[256], *h;
	CHECK(run("192.0.2.1", "x@a.test", msg, &accept, &h, reply) == MA_ACCEPT);
	CHECK(strstr(h, "dmarc=temperror") != NULL);
	free(h);
	CHECK(run("192.0.2.1", "x@a.test", msg, &defer, &h, reply) == MA_TEMPFAIL);
	CHECK(!strncmp(reply, "451 4.7.5 ", 10));
	free(h);
}

int main(void)
{
	char why[256], *pem, *txt;
	CHECK(dmarc_init(NULL) == 0);
	CHECK(dkim_keygen(DKIM_ALG_RSA, &pem, &txt, why, sizeof why) == 0);
	char *key = tmpfile_with("key.pem", pem);
	char *rec = testdns_txt_arg("sel._domainkey.a.test", txt);
	const char *records[] = { rec,
		      "--txt-record=a.test,v=spf1 ip4:192.0.2.1 -all",
		      "--txt-record=q.test,v=spf1 ip4:192.0.2.1 -all",
		      "--txt-record=_dmarc.a.test,v=DMARC1; p=reject",
		      "--txt-record=_dmarc.q.test,v=DMARC1; p=quarantine",
		      "--server=/t.test/127.0.0.1#9",	/* nobody there: SERVFAIL */
		      "--address=/#/", 		NULL };
	pid_t pid = testdns_start(records, "_dmarc.a.test");
	test_actions(key);
	test_forged();
	test_temperror();
	testdns_stop(pid);
	free(key); free(rec); free(pem); free(txt);
	return check_summary("mailauth");
}
