/* Unit tests: SPF through libspf2 + our DNS layer, against a real dnsmasq, each
 * result cross-checked with pyspf (the reference implementation in Python). */
#include "common/dns.h"
#include "common/spf.h"
#include "common/util.h"
#include "tests/unit/check.h"
#include "tests/unit/testdns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/* Client addresses are TEST-NET-1 strings: SPF evaluates them, nothing is sent
 * to them. Loopback clients are evaluated like any other (libspf2 alone would
 * pass them all without reading the record). */
struct spf_case {
	const char *ip, *helo, *sender;
	enum spf_result want;
};

static const struct spf_case cases[] = {
	{ "192.0.2.1", "client.test", "a@pass.test", SPF_PASS },
	{ "192.0.2.9", "client.test", "a@pass.test", SPF_FAIL },
	{ "192.0.2.9", "client.test", "a@soft.test", SPF_SOFTFAIL },
	{ "192.0.2.9", "client.test", "a@neutral.test", SPF_NEUTRAL },
	{ "192.0.2.9", "client.test", "a@none.test", SPF_NONE },
	{ "192.0.2.1", "client.test", "a@perm.test", SPF_PERMERROR },
	{ "192.0.2.3", "client.test", "a@mx.test", SPF_PASS },
	{ "192.0.2.1", "client.test", "a@mx.test", SPF_FAIL },
	{ "192.0.2.1", "client.test", "a@inc.test", SPF_PASS },
	{ "192.0.2.4", "helo.test", "", SPF_PASS },	/* HELO identity */
	{ "192.0.2.1", "helo.test", "", SPF_FAIL },
	{ "192.0.2.1", "client.test", "a@temp.test", SPF_TEMPERROR },
	{ "127.0.0.1", "client.test", "a@pass.test", SPF_FAIL },
	{ "127.0.0.1", "client.test", "a@lo.test", SPF_PASS },
	{ "127.0.0.1", "client.test", "a@none.test", SPF_NONE },
	{ "127.0.0.1", "helo.test", "", SPF_FAIL },
	{ "::1", "client.test", "a@pass.test", SPF_FAIL },
	{ "::1", "client.test", "a@lo.test", SPF_PASS },
};

static const char *reference(int port, const struct spf_case *c)
{
	static char out[64];
	char *cmd = xasprintf("/usr/bin/python3 tests/unit/spf_reference.py %d '%s' '%s' '%s'",
			      port, c->ip, c->helo, c->sender);
	FILE *p = popen(cmd, "r");
	free(cmd);
	out[0] = '\0';
	if (p) {
		if (!fgets(out, sizeof out, p))
			out[0] = '\0';
		pclose(p);
	}
	out[strcspn(out, "\n")] = '\0';
	return out;
}

int main(void)
{
	static const char *const records[] = {
		      "--txt-record=pass.test,v=spf1 ip4:192.0.2.1 -all",
		      "--txt-record=soft.test,v=spf1 ip4:192.0.2.1 ~all",
		      "--txt-record=neutral.test,v=spf1 ?all",
		      "--txt-record=none.test,not an spf record",
		      "--txt-record=perm.test,v=spf1 ip4:not-an-address -all",
		      "--txt-record=mx.test,v=spf1 mx -all",
		      "--mx-host=mx.test,mail.mx.test,10", "--address=/mail.mx.test/192.0.2.3",
		      "--txt-record=inc.test,v=spf1 include:pass.test -all",
		      "--txt-record=helo.test,v=spf1 a -all", "--address=/helo.test/192.0.2.4",
		      "--txt-record=lo.test,v=spf1 ip4:127.0.0.0/8 ip6:::1 -all",
		      "--server=/temp.test/127.0.0.1#9",	/* nobody there: SERVFAIL */
		      		NULL,
	};
	char comment[256];
	pid_t pid = testdns_start(records, "pass.test");
	int port = atoi(strchr(testdns_server(), ':') + 1);
	printf("%-10s %-12s %-16s %-10s %-10s\n", "ip", "helo", "sender", "tern", "pyspf");
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const struct spf_case *c = &cases[i];
		enum spf_result r = spf_check(c->ip, c->helo, c->sender, "mx.example.test",
					      comment, sizeof comment);
		const char *ref = reference(port, c);
		printf("%-10s %-12s %-16s %-10s %-10s\n", c->ip, c->helo, c->sender,
		       spf_result_str(r), ref);
		CHECK(r == c->want);
		CHECK_STR(spf_result_str(r), ref);
	}
	testdns_stop(pid);
	return check_summary("spf");
}
