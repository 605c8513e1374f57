/* Unit tests: SASL PLAIN/LOGIN decoding, Maildir name helpers. */
#include "pop3d/maildrop.h"
#include "common/sasl.h"
#include "tests/unit/check.h"

#include <stdlib.h>
#include <string.h>

static char *b64(const char *s, size_t n)
{
	char *out = malloc(4 * ((n + 2) / 3) + 1);
	sasl_b64encode((const unsigned char *)s, n, out);
	return out;
}

static void test_plain(void)
{
	char *u = NULL, *p = NULL, *e;
	e = b64("\0alice@x.test\0pw with space", 27);
	CHECK(sasl_plain(e, &u, &p));
	CHECK_STR(u, "alice@x.test");
	CHECK_STR(p, "pw with space");
	free(u), free(p), free(e);
	e = b64("alice\0alice\0pw", 14);	/* authzid = authcid is fine */
	CHECK(sasl_plain(e, &u, &p));
	free(u), free(p), free(e);
	e = b64("root\0alice\0pw", 13);	/* proxy login: refused */
	CHECK(!sasl_plain(e, &u, &p));
	free(e);
	e = b64("\0alice\0pw\0more", 14);	/* third NUL */
	CHECK(!sasl_plain(e, &u, &p));
	free(e);
	e = b64("\0alice", 6);			/* no password */
	CHECK(!sasl_plain(e, &u, &p));
	free(e);
	e = b64("\0\0pw", 4);			/* empty user */
	CHECK(!sasl_plain(e, &u, &p));
	free(e);
	CHECK(!sasl_plain("", &u, &p));
	CHECK(!sasl_plain("not base64!", &u, &p));
	CHECK(!sasl_plain("AGFsaWNlAHB3=", &u, &p));	/* bad length */
	CHECK(!sasl_plain("AG=hbGljZQBwdw==", &u, &p));	/* '=' inside */
}

/* A front-end's login for a user, with the site secret (imapd/ and pop3d/siteproxy.c). */
static void test_plain_site(void)
{
	char *u = NULL, *p = NULL, *e;
	e = b64("alice@x.test\0site\0s3cret", 24);
	CHECK(sasl_plain_site(e, &u, &p));
	CHECK_STR(u, "alice@x.test");
	CHECK_STR(p, "s3cret");
	free(u), free(p);
	CHECK(!sasl_plain(e, &u, &p));		/* never an ordinary login */
	free(e);
	e = b64("alice@x.test\0bob\0pw", 19);	/* authcid other than site */
	CHECK(!sasl_plain_site(e, &u, &p));
	free(e);
	e = b64("\0site\0s3cret", 12);		/* for nobody */
	CHECK(!sasl_plain_site(e, &u, &p));
	free(e);
	e = b64("alice\0site\0s3\0cret", 18);	/* third NUL */
	CHECK(!sasl_plain_site(e, &u, &p));
	free(e);
	e = sasl_plain_site_encode("bob@x.test", "s3cret-2");	/* what a front-end sends */
	CHECK(sasl_plain_site(e, &u, &p));
	CHECK_STR(u, "bob@x.test");
	CHECK_STR(p, "s3cret-2");
	free(u), free(p), free(e);
}

static void test_login_field(void)
{
	char *o = NULL;
	CHECK(sasl_login_field("YWxpY2U=", &o));
	CHECK_STR(o, "alice");
	free(o);
	CHECK(sasl_login_field("YWI=", &o) && !strcmp(o, "ab"));
	free(o);
	CHECK(!sasl_login_field("", &o));
	CHECK(!sasl_login_field("AA==", &o));	/* NUL */
	CHECK(!sasl_login_field("YW", &o));
	unsigned char out[8];
	CHECK(sasl_b64decode("YWJj", out, sizeof out) == 3);
	CHECK(sasl_b64decode("YWJjZA==", out, sizeof out) == 4);
	CHECK(sasl_b64decode("YWJjZGU=", out, sizeof out) == 5);
	CHECK(sasl_b64decode("YWJjZGVmZ2hpams=", out, sizeof out) == -1);	/* too big */
}

static void test_maildir_names(void)
{
	const char *n = "1700000000.M1P2.host,S=120,W=125:2,S";
	size_t b = maildir_baselen(n);
	uint64_t v;
	CHECK(b == strlen("1700000000.M1P2.host,S=120,W=125"));
	CHECK(maildir_field(n, b, 'S', &v) && v == 120);
	CHECK(maildir_field(n, b, 'W', &v) && v == 125);
	CHECK(!maildir_field("123.abc.host:2,", 12, 'S', &v));
	CHECK(!maildir_field("1.x,S=12a,W=5", 13, 'S', &v));
	CHECK(maildir_field("1.x,S=12a,W=5", 13, 'W', &v) && v == 5);
	CHECK(maildir_baselen("plain") == 5);
	char u[UIDL_MAX + 1];
	maildir_uidl(n, b, u);
	CHECK(!strcmp(u, "1700000000.M1P2.host,S=120,W=125"));
	char longname[200];
	memset(longname, 'x', sizeof longname);
	maildir_uidl(longname, sizeof longname, u);
	CHECK(strlen(u) <= UIDL_MAX && u[0] == 'H');
	char u2[UIDL_MAX + 1];
	maildir_uidl(longname, sizeof longname, u2);
	CHECK(!strcmp(u, u2));	/* stable */
	maildir_uidl("has space", 9, u);
	CHECK(u[0] == 'H' && !strchr(u, ' '));
}

int main(void)
{
	test_plain();
	test_plain_site();
	test_login_field();
	test_maildir_names();
	return check_summary("pop3d_auth");
}
