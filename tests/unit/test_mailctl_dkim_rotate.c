/* Unit tests: DKIM key rotation (mailctl/dkim_rotate.c) against a real DNS
 * server: stage, wait for the record, switch, grace period, retire. */
#include "mailctl/dkim_rotate.h"
#include "mailctl/commands.h"
#include "common/dns.h"
#include "common/util.h"
#include "tests/unit/check.h"
#include "tests/unit/testdns.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* mailctl/main.c provides this to the commands. */
int cmd_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static char ddir[512];

static bool has(const char *name)
{
	char *p = xasprintf("%s/%s", ddir, name);
	bool ok = access(p, F_OK) == 0;
	free(p);
	return ok;
}

static char *slurp(const char *name)
{
	char *p = xasprintf("%s/%s", ddir, name), buf[4096] = "";
	FILE *f = fopen(p, "r");
	if (f) {
		buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
		fclose(f);
	}
	free(p);
	return xstrdup(str_trim(buf));
}

static void test_txt_key(void)
{
	char out[64];
	CHECK(dkim_txt_key("v=DKIM1; k=rsa; p=AB CD\tEF", out, sizeof out));
	CHECK_STR(out, "ABCDEF");
	CHECK(dkim_txt_key("k=ed25519;p=xyz", out, sizeof out));
	CHECK_STR(out, "xyz");
	CHECK(dkim_txt_key("v=DKIM1; p = k1 ;", out, sizeof out));
	CHECK_STR(out, "k1");
	CHECK(!dkim_txt_key("v=DKIM1; p=", out, sizeof out));	/* revoked key */
	CHECK(!dkim_txt_key("v=DKIM1; k=rsa", out, sizeof out));
	CHECK(!dkim_txt_key("v=spf1 -all", out, sizeof out));
}

/* DNS serving the given selector's key of a.test (NULL: only a probe name). */
static pid_t dns_with(const char *sel, const char *txt)
{
	char *name = xasprintf("%s._domainkey.a.test", sel ? sel : "none");
	char *rec = sel ? testdns_txt_arg(name, txt) : NULL;
	const char *records[] = { "--txt-record=probe.a.test,x", "--address=/#/", rec, NULL };
	pid_t pid = testdns_start(records, "probe.a.test");
	free(rec);
	free(name);
	return pid;
}

static const char *named;	/* what dkim_selectors names for a.test */

static enum dkim_rotate_state step(uint64_t now)
{
	struct dkim_rotate_opts o = { .selector = "new", .alg = DKIM_ALG_ED25519, .grace = 100,
				      .now = now, .named = named, .conf_path = "deliverd.conf" };
	enum dkim_rotate_state st = dkim_rotate(ddir, "a.test", &o);
	fflush(stdout);
	return st;
}

static void test_rotation(void)
{
	snprintf(ddir, sizeof ddir, "%s/dkim/a.test", check_tmpdir());
	CHECK(step(1000) == DKIM_ROT_ERROR);	/* no key to rotate yet */
	CHECK(dkim_write_key(ddir, "a.test", "old", ".key", DKIM_ALG_ED25519) == 0);
	CHECK(dkim_write_key(ddir, "a.test", "old", DKIM_STAGED_SUFFIX, DKIM_ALG_ED25519) < 0);

	pid_t dns = dns_with(NULL, NULL);
	CHECK(step(1000) == DKIM_ROT_STAGED);
	CHECK(has("new.key.staged") && has("new.txt") && has("old.key") && !has("new.key"));
	CHECK(step(1000) == DKIM_ROT_WAITING);	/* not published */
	testdns_stop(dns);

	char *old_txt = slurp("old.txt"), *new_txt = slurp("new.txt");
	dns = dns_with("new", old_txt);	/* another key at the new name */
	CHECK(step(1000) == DKIM_ROT_WAITING);
	CHECK(has("new.key.staged") && has("old.key"));
	testdns_stop(dns);

	dns = dns_with("new", new_txt);
	/* dkim_selectors names the old selector: the agent would sign with
	 * nothing after a switch, so none happens until the entry goes */
	named = "old";
	CHECK(step(1000) == DKIM_ROT_BLOCKED);
	CHECK(has("new.key.staged") && has("old.key") && !has("new.key"));
	named = "NEW";	/* an entry naming the staged selector is fine */
	CHECK(step(1000) == DKIM_ROT_SWITCHED);
	named = NULL;
	CHECK(has("new.key") && !has("new.key.staged") && !has("old.key"));
	CHECK(has("old.txt") && has("old.retired"));	/* still published */
	char *until = slurp("old.retired");
	CHECK_STR(until, "1100");
	free(until);

	CHECK(step(1050) == DKIM_ROT_RETIRING);	/* grace period: nothing new staged */
	CHECK(has("old.txt") && !has("new.key.staged"));
	CHECK(step(1100) == DKIM_ROT_RETIRED);
	CHECK(!has("old.txt") && !has("old.retired") && has("new.key") && has("new.txt"));
	CHECK(!has("new.key.staged"));

	/* the next rotation: a dated selector by default */
	struct dkim_rotate_opts o = { .alg = DKIM_ALG_ED25519, .grace = 0, .now = 86400 * 2 };
	CHECK(dkim_rotate(ddir, "a.test", &o) == DKIM_ROT_STAGED);
	CHECK(has("tern-19700103.key.staged") && has("tern-19700103.txt"));
	testdns_stop(dns);
	free(old_txt);
	free(new_txt);
}

int main(void)
{
	test_txt_key();
	test_rotation();
	return check_summary("mailctl_dkim_rotate");
}
