/* Unit tests: DNS wrapper against a real dnsmasq on loopback (dns_server). */
#include "common/dns.h"
#include "common/util.h"
#include "tests/unit/check.h"
#include "tests/unit/testdns.h"

#include <signal.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/* Queries from several threads at once must each get their own answer. */
static void *query_loop(void *arg)
{
	long bad = 0;
	for (int i = 0; i < 40; i++) {
		struct dns_mx mx[4];
		char a[2][64];
		size_t n = 0;
		if (dns_mx("b.test", mx, 4, &n) != DNS_OK || n != 2 || mx[0].pref != 10)
			bad++;
		if (dns_a("mx1.b.test", a, 2, &n) != DNS_OK || n != 1 || strcmp(a[0], "127.0.0.2"))
			bad++;
	}
	return (void *)bad;
}

static void test_threads(void)
{
	pthread_t t[4];
	long total = 0;
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, query_loop, NULL);
	for (int i = 0; i < 4; i++) {
		void *r;
		pthread_join(t[i], &r);
		total += (long)r;
	}
	CHECK(total == 0);
}

int main(void)
{
	static const char *const records[] = {
		"--mx-host=b.test,mx2.b.test,20", "--mx-host=b.test,mx1.b.test,10",
		"--address=/mx1.b.test/127.0.0.2", "--host-record=v6.b.test,::1",
		"--txt-record=b.test,v=spf1 ip4:127.0.0.1 -all",
		"--txt-record=long.b.test,part one ,part two",
		"--ptr-record=2.0.0.127.in-addr.arpa,mx1.b.test",
		"--address=/nothere.test/", NULL,
	};
	CHECK(dns_init("not a server", 1) == -1);
	CHECK(dns_init("127.0.0.1:99999", 1) == -1);
	pid_t pid = testdns_start(records, "b.test");
	char server[64];
	snprintf(server, sizeof server, "%s", testdns_server());
	struct dns_mx mx[8];
	size_t n = 0;
	enum dns_status st = dns_mx("b.test", mx, 8, &n);
	CHECK(st == DNS_OK && n == 2);
	if (n == 2) {
		CHECK(mx[0].pref == 10 && !strcmp(mx[0].host, "mx1.b.test"));
		CHECK(mx[1].pref == 20 && !strcmp(mx[1].host, "mx2.b.test"));
	}
	char addrs[4][64];
	CHECK(dns_a("mx1.b.test", addrs, 4, &n) == DNS_OK && n == 1 && !strcmp(addrs[0], "127.0.0.2"));
	CHECK(dns_aaaa("v6.b.test", addrs, 4, &n) == DNS_OK && n == 1 && !strcmp(addrs[0], "::1"));
	char **txt;
	CHECK(dns_txt("b.test", &txt, &n) == DNS_OK && n == 1);
	if (n == 1)
		CHECK_STR(txt[0], "v=spf1 ip4:127.0.0.1 -all");
	dns_txt_free(txt, n);
	CHECK(dns_txt("long.b.test", &txt, &n) == DNS_OK && n == 1);
	if (n == 1)
		CHECK_STR(txt[0], "part one part two");	/* strings concatenated */
	dns_txt_free(txt, n);
	char name[256];
	CHECK(dns_ptr("127.0.0.2", name, sizeof name) == DNS_OK && !strcmp(name, "mx1.b.test"));
	CHECK(dns_ptr("not-an-ip", name, sizeof name) == DNS_ERROR);
	CHECK(dns_mx("nothere.test", mx, 8, &n) == DNS_NXDOMAIN);

	test_threads();
	testdns_stop(pid);
	/* Server gone: a temporary failure, never "does not exist". */
	CHECK(dns_init(server, 1) == 0);
	CHECK(dns_mx("b.test", mx, 8, &n) == DNS_TEMPFAIL);
	return check_summary("dns");
}
