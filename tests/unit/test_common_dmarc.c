/* Unit tests: DKIM verification (messages signed by dkimpy) and DMARC
 * evaluation (alignment, p/sp, strict vs relaxed) against a real dnsmasq. */
#include "common/dkim.h"
#include "common/dmarc.h"
#include "common/dns.h"
#include "common/util.h"
#include "tests/unit/check.h"
#include "tests/unit/testdns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *body_msg =
	"From: Alice <alice@a.test>\r\n"
	"To: bob@example.test\r\n"
	"Subject: hello\r\n"
	"Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
	"Message-ID: <m1@a.test>\r\n"
	"\r\n"
	"The body.\r\n";

static char *tmpfile_with(const char *name, const char *text)
{
	char *p = xasprintf("%s/%s", check_tmpdir(), name);
	FILE *f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
	return p;
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = xmalloc(65536);
	size_t n = fread(buf, 1, 65535, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_verify(const char *keypath)
{
	char why[256];
	struct dkim_verdict v;
	char *in = tmpfile_with("in.eml", body_msg);
	char *out = xasprintf("%s/out.eml", check_tmpdir());
	char *cmd = xasprintf("/usr/bin/python3 tests/unit/dkim_sign_ref.py %s a.test sel %s %s",
			      keypath, in, out);
	CHECK(system(cmd) == 0);
	char *signed_msg = read_all(out);
	CHECK(signed_msg != NULL);
	if (!signed_msg)
		return;
	CHECK(dkim_verify_msg(signed_msg, strlen(signed_msg), &v, why, sizeof why) == 0);
	CHECK(v.nsigs == 1 && v.sigs[0].result == DKIM_PASS);
	CHECK_STR(v.sigs[0].domain, "a.test");
	CHECK_STR(v.sigs[0].selector, "sel");
	CHECK(strlen(v.sigs[0].b) > 0);

	char *h = strstr(signed_msg, "The body.");
	h[4] = 'B';	/* altered body */
	CHECK(dkim_verify_msg(signed_msg, strlen(signed_msg), &v, why, sizeof why) == 0);
	CHECK(v.nsigs == 1 && v.sigs[0].result == DKIM_FAIL);

	char *s = strstr(signed_msg, "s=sel");
	if (s)
		memcpy(s, "s=xyz", 5);	/* a selector with no key published */
	CHECK(dkim_verify_msg(signed_msg, strlen(signed_msg), &v, why, sizeof why) == 0);
	CHECK(v.nsigs == 1 && v.sigs[0].result == DKIM_PERMERROR);	/* no key: permerror */

	CHECK(dkim_verify_msg(body_msg, strlen(body_msg), &v, why, sizeof why) == 0);
	CHECK(v.nsigs == 0);
	free(signed_msg); free(cmd); free(in); free(out);
}

static struct dmarc_verdict eval(const char *from, const char *spf_dom, enum spf_result spf,
				 const char *dkim_dom, enum dkim_result dk)
{
	struct dkim_verdict dv = { 0 };
	if (dkim_dom) {
		dv.nsigs = 1;
		dv.sigs[0].result = dk;
		snprintf(dv.sigs[0].domain, sizeof dv.sigs[0].domain, "%s", dkim_dom);
		snprintf(dv.sigs[0].selector, sizeof dv.sigs[0].selector, "sel");
	}
	struct dmarc_input in = { "192.0.2.1", from, spf_dom, false, spf, &dv };
	struct dmarc_verdict out;
	dmarc_evaluate(&in, &out);
	return out;
}

static void test_dmarc(void)
{
	struct dmarc_verdict v;
	v = eval("a.test", "other.test", SPF_FAIL, "a.test", DKIM_PASS);	/* via DKIM */
	CHECK(v.result == DMARC_RES_PASS && v.dkim_aligned && !v.spf_aligned);
	v = eval("a.test", "a.test", SPF_PASS, NULL, DKIM_NONE);		/* via SPF */
	CHECK(v.result == DMARC_RES_PASS && v.spf_aligned && !v.dkim_aligned);
	v = eval("a.test", "a.test", SPF_FAIL, "a.test", DKIM_FAIL);
	CHECK(v.result == DMARC_RES_FAIL && v.policy == DMARC_P_REJECT &&
	      v.disposition == DMARC_P_REJECT);
	CHECK(!strncmp(v.rua, "mailto:dmarc@a.test", 19));
	v = eval("a.test", "other.test", SPF_PASS, "other.test", DKIM_PASS);	/* unaligned */
	CHECK(v.result == DMARC_RES_FAIL);
	v = eval("q.test", "x.test", SPF_FAIL, NULL, DKIM_NONE);
	CHECK(v.result == DMARC_RES_FAIL && v.disposition == DMARC_P_QUARANTINE);
	v = eval("n.test", "x.test", SPF_FAIL, NULL, DKIM_NONE);
	CHECK(v.result == DMARC_RES_FAIL && v.disposition == DMARC_P_NONE);
	v = eval("sub.a.test", "x.test", SPF_FAIL, NULL, DKIM_NONE);		/* sp= */
	CHECK(v.result == DMARC_RES_FAIL && v.policy == DMARC_P_QUARANTINE);
	CHECK_STR(v.policy_domain, "a.test");
	v = eval("sub.a.test", "a.test", SPF_PASS, NULL, DKIM_NONE);		/* relaxed: org match */
	CHECK(v.result == DMARC_RES_PASS);
	v = eval("s.test", "mail.s.test", SPF_PASS, NULL, DKIM_NONE);		/* aspf=s */
	CHECK(v.result == DMARC_RES_FAIL);
	v = eval("r.test", "mail.r.test", SPF_PASS, NULL, DKIM_NONE);		/* relaxed */
	CHECK(v.result == DMARC_RES_PASS);
	v = eval("half.test", "x.test", SPF_FAIL, NULL, DKIM_NONE);		/* pct=0 */
	CHECK(v.result == DMARC_RES_FAIL && v.policy == DMARC_P_REJECT &&
	      v.disposition == DMARC_P_QUARANTINE);
	v = eval("nodmarc.test", "x.test", SPF_FAIL, NULL, DKIM_NONE);
	CHECK(v.result == DMARC_RES_NONE);
	v = eval("bad.test", "x.test", SPF_FAIL, NULL, DKIM_NONE);
	CHECK(v.result == DMARC_RES_PERMERROR);
	v = eval("a.test", "a.test", SPF_TEMPERROR, NULL, DKIM_NONE);		/* never a reject */
	CHECK(v.result == DMARC_RES_TEMPERROR);
}

int main(void)
{
	char why[256], *pem, *txt;
	CHECK(dmarc_init(NULL) == 0);
	CHECK(dkim_keygen(DKIM_ALG_RSA, &pem, &txt, why, sizeof why) == 0);
	char *keypath = tmpfile_with("key.pem", pem);
	char *keyrec = testdns_txt_arg("sel._domainkey.a.test", txt);
	const char *records[] = { keyrec,
		      "--txt-record=_dmarc.a.test,v=DMARC1; p=reject; sp=quarantine; rua=mailto:dmarc@a.test",
		      "--txt-record=_dmarc.q.test,v=DMARC1; p=quarantine",
		      "--txt-record=_dmarc.n.test,v=DMARC1; p=none",
		      "--txt-record=_dmarc.s.test,v=DMARC1; p=reject; aspf=s",
		      "--txt-record=_dmarc.r.test,v=DMARC1; p=reject",
		      "--txt-record=_dmarc.half.test,v=DMARC1; p=reject; pct=0",
		      "--txt-record=_dmarc.bad.test,v=DMARC1; p=bogus",
		      "--txt-record=nodmarc.test,v=spf1 -all",
		      "--address=/#/",	/* everything else: NXDOMAIN, as real DNS would */
		      		NULL };
	pid_t pid = testdns_start(records, "_dmarc.a.test");
	test_verify(keypath);
	test_dmarc();
	testdns_stop(pid);
	free(keypath); free(keyrec); free(pem); free(txt);
	return check_summary("dmarc");
}
