/* Unit tests: a host's role and mailbox hosts (common/site.c). */
#include "common/instance.h"
#include "common/site.h"
#include "common/site_link.h"
#include "tests/unit/check.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static void test_parse_host(void)
{
	struct site_host h;
	char why[200];
	CHECK(site_parse_host("MB1.Example.Test=10.0.0.7:2024", &h, why, sizeof why));
	CHECK_STR(h.name, "mb1.example.test");
	CHECK_STR(h.addr, "10.0.0.7");
	CHECK(h.port == 2024);
	CHECK(site_parse_host("mb2=[2001:db8::7]:24", &h, why, sizeof why));
	CHECK_STR(h.addr, "2001:db8::7");
	CHECK(h.port == 24);
	CHECK(site_parse_host("10.0.0.9=10.0.0.9:24", &h, why, sizeof why));
	CHECK_STR(h.name, "10.0.0.9");
	CHECK(!site_parse_host("mb1", &h, why, sizeof why));
	CHECK(!site_parse_host("=10.0.0.7:24", &h, why, sizeof why));
	CHECK(!site_parse_host("mb1=10.0.0.7", &h, why, sizeof why));
	CHECK(!site_parse_host("mb1=10.0.0.7:0", &h, why, sizeof why));
	CHECK(!site_parse_host("mb1=10.0.0.7:65536", &h, why, sizeof why));
	CHECK(!site_parse_host("mb1=10.0.0.7:24x", &h, why, sizeof why));
	CHECK(!site_parse_host("mb..1=10.0.0.7:24", &h, why, sizeof why));
	CHECK(!site_parse_host("mb1=[10.0.0.7]:24", &h, why, sizeof why));
	CHECK(!site_parse_host("mb1=2001:db8::7:24", &h, why, sizeof why));
	CHECK(!site_parse_host("mb1=[2001:db8::7:24", &h, why, sizeof why));
	CHECK(!site_parse_host("mb1=mb1.example.test:24", &h, why, sizeof why));
	CHECK(strstr(why, "IP address") != NULL);
}

/* An instance directory whose tern.conf is text; 0 or -1 (with errors). */
static int load(struct instance *in, const char *text)
{
	struct cfg_errors errs = { 0 };
	char dir[512];
	snprintf(dir, sizeof dir, "%s/inst", check_tmpdir());
	mkdir(dir, 0700);	/* EEXIST from the test before is fine */
	check_put_file(check_tmpdir(), "inst", "tern.conf", text);
	int r = instance_load(in, dir, &errs);
	for (int i = 0; i < errs.count; i++)
		fprintf(stderr, "%s\n", errs.msg[i]);
	return r;
}

/* A mailbox host's IMAP and POP3 ports follow its internal one. */
static void test_service_sockaddr(void)
{
	struct site_host h;
	struct sockaddr_storage ss;
	char why[200];
	CHECK(site_parse_host("mb1=192.0.2.5:2024", &h, why, sizeof why));
	CHECK(site_service_sockaddr(&h, SITE_PORT_POP3, &ss) == sizeof(struct sockaddr_in));
	const struct sockaddr_in *v4 = (const struct sockaddr_in *)&ss;
	CHECK(v4->sin_family == AF_INET && ntohs(v4->sin_port) == 2110 &&
	      ntohl(v4->sin_addr.s_addr) == 0xc0000205u);
	CHECK(site_parse_host("mb2=[2001:db8::7]:3024", &h, why, sizeof why));
	CHECK(site_service_sockaddr(&h, SITE_PORT_IMAP, &ss) == sizeof(struct sockaddr_in6));
	const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&ss;
	CHECK(v6->sin6_family == AF_INET6 && ntohs(v6->sin6_port) == 3143 &&
	      v6->sin6_addr.s6_addr[15] == 7);
	strcpy(h.addr, "not-an-ip");
	CHECK(site_service_sockaddr(&h, SITE_PORT_IMAP, &ss) == 0);
}

static void test_roles(void)
{
	struct instance in;
	struct site s;
	char why[300];
	CHECK(load(&in, "hostname = mx.example.test\n") == 0);
	CHECK(site_load(&in, &s, why, sizeof why) == 0);
	CHECK(s.role == SITE_BOTH);
	CHECK_STR(s.self, "mx.example.test");	/* defaults to hostname */
	CHECK(site_is_local(&s, ""));
	CHECK(site_is_local(&s, "mx.example.test"));
	CHECK(!site_is_local(&s, "mb1.example.test"));
	CHECK(site_find(&s, "mb1.example.test") == NULL);
	site_free(&s);
	instance_free(&in);

	CHECK(load(&in, "role = frontend\nmailbox_hosts = mb1=127.0.0.1:1024, MB2=127.0.0.1:2024\n") == 0);
	CHECK(site_load(&in, &s, why, sizeof why) == 0);
	CHECK(s.role == SITE_FRONTEND);
	CHECK_STR(site_role_name(s.role), "frontend");
	CHECK(s.nhosts == 2);
	CHECK(!site_is_local(&s, ""));		/* a front-end stores no mail */
	CHECK(!site_is_local(&s, "localhost"));
	const struct site_host *h = site_find(&s, "mb2");
	CHECK(h && h->port == 2024);
	site_free(&s);
	instance_free(&in);

	CHECK(load(&in, "role = mailbox\nmailbox_host_name = MB1\n") == 0);
	CHECK(site_load(&in, &s, why, sizeof why) == 0);
	CHECK(site_is_local(&s, "mb1"));
	CHECK(site_is_local(&s, ""));
	CHECK(!site_is_local(&s, "mb2"));
	site_free(&s);
	instance_free(&in);
}

static void test_bad_sites(void)
{
	struct instance in;
	struct site s;
	char why[300];
	CHECK(load(&in, "mailbox_hosts = mb1=127.0.0.1:1024, mb1=127.0.0.1:2024\n") == 0);
	CHECK(site_load(&in, &s, why, sizeof why) < 0);
	CHECK(strstr(why, "mb1 twice") != NULL);
	instance_free(&in);
	CHECK(load(&in, "mailbox_host_name = mb1\nmailbox_hosts = mb1=127.0.0.1:1024\n") == 0);
	CHECK(site_load(&in, &s, why, sizeof why) < 0);
	CHECK(strstr(why, "this host itself") != NULL);
	instance_free(&in);
	/* the schema refuses what site_parse_host refuses */
	CHECK(load(&in, "mailbox_hosts = mb1=mb1.example.test:24\n") < 0);
	instance_free(&in);
	CHECK(load(&in, "mailbox_host_name = a..b\n") < 0);
	instance_free(&in);
	CHECK(load(&in, "role = proxy\n") < 0);
	instance_free(&in);
}

/* site_tls and site_ca_file: the same keys for every daemon (tern.conf). */
static void test_site_tls(void)
{
	struct instance in;
	struct site s;
	char why[300];
	CHECK(load(&in, "role = frontend\nmailbox_hosts = mb1=127.0.0.1:1024\n") == 0);
	CHECK(site_load(&in, &s, why, sizeof why) == 0);
	CHECK(!s.tls_verify && s.ca_file == NULL);	/* default: none */
	CHECK(site_link_tls_ctx(&s, why, sizeof why) == NULL && why[0] == '\0');
	site_free(&s);
	instance_free(&in);

	CHECK(load(&in, "role = frontend\nmailbox_hosts = mb1=127.0.0.1:1024\n"
			"site_tls = verify\nsite_ca_file = ca.pem\n") == 0);
	CHECK(site_load(&in, &s, why, sizeof why) == 0);
	CHECK(s.tls_verify);
	CHECK(s.ca_file && s.ca_file[0] == '/' && strstr(s.ca_file, "/inst/ca.pem"));
	/* a CA file that is not there: the daemon stops with why */
	CHECK(site_link_tls_ctx(&s, why, sizeof why) == NULL);
	CHECK(strstr(why, "site_ca_file") != NULL);
	site_free(&s);
	instance_free(&in);

	/* verify with mailbox hosts needs the site's CA; a mailbox host that
	 * connects to nobody does not */
	CHECK(load(&in, "role = frontend\nmailbox_hosts = mb1=127.0.0.1:1024\n"
			"site_tls = verify\n") == 0);
	CHECK(site_load(&in, &s, why, sizeof why) < 0);
	CHECK(strstr(why, "needs site_ca_file") != NULL);
	instance_free(&in);
	CHECK(load(&in, "role = mailbox\nsite_tls = verify\n") == 0);
	CHECK(site_load(&in, &s, why, sizeof why) == 0);
	CHECK(s.tls_verify && s.ca_file == NULL);
	CHECK(site_link_tls_ctx(&s, why, sizeof why) == NULL && why[0] == '\0');
	site_free(&s);
	instance_free(&in);

	CHECK(load(&in, "site_tls = may\n") < 0);	/* the schema: none or verify */
	instance_free(&in);
}

int main(void)
{
	test_parse_host();
	test_service_sockaddr();
	test_roles();
	test_bad_sites();
	test_site_tls();
	return check_summary("common_site");
}
