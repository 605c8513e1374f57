/* Unit tests: MTA-STS records, policies and MX matching (RFC 8461 3.1, 3.2, 4.1). */
#include "common/sts_policy.h"
#include "tests/unit/check.h"

#include <stdio.h>
#include <string.h>

static void txt(void)
{
	char id[STS_ID_MAX + 1];
	CHECK(sts_txt_parse("v=STSv1; id=20160831085700Z;", id));
	CHECK_STR(id, "20160831085700Z");
	CHECK(sts_txt_parse("v=STSv1;id=abc", id) && !strcmp(id, "abc"));
	CHECK(sts_txt_parse("v=STSv1; id=abc; ext=1", id));
	CHECK(!sts_txt_parse("v=STSv2; id=abc", id));
	CHECK(!sts_txt_parse("id=abc; v=STSv1", id));		/* version first */
	CHECK(!sts_txt_parse("v=STSv1", id));			/* id required */
	CHECK(!sts_txt_parse("v=STSv1; id=a-b", id));		/* letters and digits */
	CHECK(!sts_txt_parse("v=STSv1; id=123456789012345678901234567890123", id));	/* 33 */
	CHECK(!sts_txt_parse("v=STSv1; id=a; id=b", id));
	CHECK(!sts_txt_parse("v=spf1 -all", id));
}

static void policy(void)
{
	struct sts_policy p;
	char why[200];
	const char *ok = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
			 "mx: *.example.net\r\nmx: backupmx.example.com\r\nmax_age: 604800\r\n";
	CHECK(sts_policy_parse(ok, strlen(ok), &p, why, sizeof why));
	CHECK(p.mode == STS_ENFORCE && p.max_age == 604800 && p.nmx == 3);
	CHECK(sts_mx_match(&p, "mail.example.com"));
	CHECK(sts_mx_match(&p, "MAIL.Example.COM."));
	CHECK(sts_mx_match(&p, "mx1.example.net"));
	CHECK(!sts_mx_match(&p, "a.b.example.net"));		/* one label only */
	CHECK(!sts_mx_match(&p, "example.net"));
	CHECK(!sts_mx_match(&p, "evil.example.org"));
	const char *lf = "version: STSv1\nmode: testing\nmx: mx.a.test\nmax_age: 86400\nfoo: bar\n";
	CHECK(sts_policy_parse(lf, strlen(lf), &p, why, sizeof why) && p.mode == STS_TESTING);
	const char *none = "version: STSv1\nmode: none\nmax_age: 86400\n";
	CHECK(sts_policy_parse(none, strlen(none), &p, why, sizeof why) && p.mode == STS_NONE);
	const char *bad[] = {
		"mode: enforce\nmx: a.test\nmax_age: 1\n",			/* no version */
		"version: STSv1\nmx: a.test\nmax_age: 1\n",			/* no mode */
		"version: STSv1\nmode: enforce\nmx: a.test\n",		/* no max_age */
		"version: STSv1\nmode: enforce\nmax_age: 1\n",		/* enforce, no mx */
		"version: STSv1\nmode: strict\nmx: a.test\nmax_age: 1\n",
		"version: STSv1\nmode: enforce\nmx: a.test\nmax_age: 99999999999\n",
		"version: STSv1\nmode: enforce\nmx: a test\nmax_age: 1\n",
		"version: STSv1\nmode enforce\nmx: a.test\nmax_age: 1\n",
		"version: STSv1\nmode: testing\nmx: a.\x7f.test\nmax_age: 1\n",
		"version: STSv1\nmode: testing\nmx: a..test\nmax_age: 1\n",	/* found by fuzz_sts */
		"version: STSv1\nmode: testing\nmx: a.test..\nmax_age: 1\n",
		"version: STSv1\nmode: testing\nmx: .a.test\nmax_age: 1\n",
		"version: STSv1\nmode: testing\nmx: *.\nmax_age: 1\n",
	};
	/* found by fuzz_sts: a NUL inside a line cut the pattern short */
	static const char nul[] = "version: STSv1\nmode: testing\nmx: a.\0\0test\nmax_age: 1\n";
	CHECK(!sts_policy_parse(nul, sizeof nul - 1, &p, why, sizeof why));
	const char *dot = "version: STSv1\nmode: enforce\nmx: MX.A.test.\nmax_age: 1\n";
	CHECK(sts_policy_parse(dot, strlen(dot), &p, why, sizeof why) && !strcmp(p.mx[0], "mx.a.test"));
	CHECK(sts_mx_match(&p, "mx.a.test.") && sts_mx_match(&p, "mx.a.test"));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK(!sts_policy_parse(bad[i], strlen(bad[i]), &p, why, sizeof why));
	/* bounded: too many mx lines, an overlong line */
	static char big[STS_POLICY_MAX + 2];
	int o = snprintf(big, sizeof big, "version: STSv1\nmode: enforce\nmax_age: 1\n");
	for (int i = 0; i < STS_MX_MAX + 1; i++)
		o += snprintf(big + o, sizeof big - (size_t)o, "mx: m%d.a.test\n", i);
	CHECK(!sts_policy_parse(big, (size_t)o, &p, why, sizeof why));
	memset(big, 'x', sizeof big);
	CHECK(!sts_policy_parse(big, sizeof big, &p, why, sizeof why));
	CHECK(!sts_policy_parse(big, 2000, &p, why, sizeof why));
}

int main(void)
{
	txt();
	policy();
	return check_summary("sts_policy");
}
