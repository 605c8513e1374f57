/* Unit tests: IMAP URLs (imapd/imapurl.c, RFC 5092 with RFC 4467's URLAUTH)
 * and the URLAUTH tokens and access identifiers (imapd/urlauth.c). */
#include "imapd/imapurl.h"
#include "imapd/urlauth.h"
#include "tests/unit/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_relative(void)
{
	struct imap_url u;
	CHECK(imap_url_parse("/INBOX/;UID=7", &u) == 0);
	CHECK(!u.user && !u.host && u.uid == 7 && !u.section && !u.partial && u.expire == -1);
	CHECK_STR(u.mailbox, "INBOX");
	imap_url_free(&u);
	CHECK(imap_url_parse("/Sent%20Mail;uidvalidity=42/;uid=3/;section=1.HEADER.FIELDS%20(FROM)"
			     "/;partial=10.20", &u) == 0);
	CHECK_STR(u.mailbox, "Sent Mail");
	CHECK(u.uidvalidity == 42 && u.uid == 3 && u.partial && u.pstart == 10 && u.plen == 20);
	CHECK_STR(u.section, "1.HEADER.FIELDS (FROM)");
	imap_url_free(&u);
	/* a mailbox name with "/" in it; a partial without a length */
	CHECK(imap_url_parse("/a/b/;UID=1/;PARTIAL=5", &u) == 0);
	CHECK_STR(u.mailbox, "a/b");
	CHECK(u.partial && u.pstart == 5 && u.plen == 0);
	imap_url_free(&u);
}

static void test_absolute_and_urlauth(void)
{
	struct imap_url u;
	const char *url = "imap://fred%40example.test;AUTH=*@mail.example.test:143/INBOX/;UID=9"
			  "/;SECTION=2;EXPIRE=2030-01-02T03:04:05+01:00;URLAUTH=submit+fred%40example.test"
			  ":INTERNAL:0123456789abcdef0123456789ABCDEF";
	CHECK(imap_url_parse(url, &u) == 0);
	CHECK_STR(u.user, "fred@example.test");
	CHECK_STR(u.host, "mail.example.test");
	CHECK_STR(u.access, "submit+fred@example.test");
	CHECK_STR(u.mech, "INTERNAL");
	CHECK(u.expire == 1893553445 - 3600);	/* 03:04:05+01:00 is 02:04:05Z */
	CHECK(u.rump_len == strlen(url) - strlen(":INTERNAL:0123456789abcdef0123456789ABCDEF"));
	char *owner = imap_url_owner(&u);
	CHECK_STR(owner, "fred@example.test");
	free(owner);
	imap_url_free(&u);
	/* imaptest's form: the user without its domain, which is the host */
	CHECK(imap_url_parse("imap://testuser@example.test/INBOX/;uid=1;urlauth=user+testuser@example.test",
			     &u) == 0);
	owner = imap_url_owner(&u);
	CHECK_STR(owner, "testuser@example.test");
	CHECK(u.access && !u.mech && !u.token);
	free(owner);
	imap_url_free(&u);
}

static void test_malformed(void)
{
	static const char *const bad[] = {
		"", "/", "INBOX/;UID=1", "/INBOX", "/INBOX/;UID=0", "/INBOX/;UID=01", "/INBOX;UID=1",
		"/INBOX/;UID=4294967296", "/INBOX/;SECTION=1/;UID=2", "/INBOX/;UID=1;SECTION=1",
		"/INBOX/;UID=1/;PARTIAL=1.0", "/INBOX/;UID=1/;PARTIAL=.5", "/INBOX/;UID=1/;BOGUS=1",
		"/INBOX/;UID=1/;SECTION=", "/IN%00BOX/;UID=1", "/IN%4/;UID=1", "/IN BOX/;UID=1",
		"/INBOX/;UID=1;EXPIRE=2030-13-01T00:00:00Z", "/INBOX/;UID=1;EXPIRE=yesterday",
		"/INBOX/;UID=1;URLAUTH=", "/INBOX/;UID=1;URLAUTH=authuser:INTERNAL:abc",
		"/INBOX/;UID=1;URLAUTH=authuser:INTERNAL:0123456789abcdef0123456789abcdeX",
		"/INBOX/;UID=1;URLAUTH=authuser;UID=2", "imap://host/INBOX/;UID=1", "imap://@h/INBOX/;UID=1",
		"imap://u@/INBOX/;UID=1", "/INBOX;UIDVALIDITY=1",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct imap_url u;
		int r = imap_url_parse(bad[i], &u);
		if (r == 0)
			printf("accepted: %s\n", bad[i]);
		CHECK(r < 0);
	}
	char *longurl = malloc(IMAP_URL_MAX + 32);
	memset(longurl, 'a', IMAP_URL_MAX + 31);
	memcpy(longurl, "/", 1);
	strcpy(longurl + IMAP_URL_MAX, "/;UID=1");
	struct imap_url u;
	CHECK(imap_url_parse(longurl, &u) < 0);
	free(longurl);
}

static void test_access(void)
{
	struct imap_url u;
	const char *why;
	struct urlauth_who fred = { "fred@example.test", false }, sub = { "fred@example.test", true },
			   other = { "jim@example.test", false };
	CHECK(imap_url_parse("imap://fred@example.test/INBOX/;UID=1;URLAUTH=user+fred", &u) == 0);
	CHECK(urlauth_allows(&u, &fred, &why) && !urlauth_allows(&u, &other, &why) &&
	      !urlauth_allows(&u, &sub, &why));
	imap_url_free(&u);
	CHECK(imap_url_parse("imap://fred@example.test/INBOX/;UID=1;URLAUTH=submit+fred%40example.test", &u) == 0);
	CHECK(urlauth_allows(&u, &sub, &why) && !urlauth_allows(&u, &fred, &why));
	imap_url_free(&u);
	CHECK(imap_url_parse("imap://fred@example.test/INBOX/;UID=1;URLAUTH=authuser", &u) == 0);
	CHECK(urlauth_allows(&u, &fred, &why) && urlauth_allows(&u, &other, &why) &&
	      !urlauth_allows(&u, &sub, &why));
	imap_url_free(&u);
	CHECK(imap_url_parse("imap://fred@example.test/INBOX/;UID=1;URLAUTH=anonymous", &u) == 0);
	CHECK(urlauth_allows(&u, &sub, &why) && urlauth_allows(&u, &other, &why));
	imap_url_free(&u);
	CHECK(imap_url_parse("imap://fred@example.test/INBOX/;UID=1;URLAUTH=owner+fred", &u) == 0);
	CHECK(!urlauth_allows(&u, &fred, &why));
	imap_url_free(&u);
}

static void test_tokens(void)
{
	const char *dir = check_tmpdir();
	unsigned char k1[URLAUTH_KEY_LEN], k2[URLAUTH_KEY_LEN];
	CHECK(urlauth_key(dir, false, k1) < 0);	/* none yet */
	CHECK(urlauth_key(dir, true, k1) == 0);
	CHECK(urlauth_key(dir, false, k2) == 0 && !memcmp(k1, k2, sizeof k1));
	const char *rump = "imap://fred@example.test/INBOX/;UID=1;URLAUTH=authuser";
	char *t = urlauth_sign(k1, rump, strlen(rump));
	CHECK(strlen(t) == 64);
	char *full = malloc(512);
	sprintf(full, "%s:INTERNAL:%s", rump, t);
	struct imap_url u;
	const char *why;
	CHECK(imap_url_parse(full, &u) == 0 && urlauth_valid(&u, full, dir, &why));
	imap_url_free(&u);
	/* a token one hex digit off (still hex, so it parses: flipping a bit
	 * of 'a' gave '`' and the parse failed about one run in sixteen) */
	char *last = full + strlen(full) - 1, was = *last;
	*last = was == '0' ? '1' : '0';
	CHECK(imap_url_parse(full, &u) == 0 && !urlauth_valid(&u, full, dir, &why));
	imap_url_free(&u);
	*last = was;
	CHECK(urlauth_reset(dir) == 0 && urlauth_key(dir, false, k2) == 0 && memcmp(k1, k2, sizeof k1));
	CHECK(imap_url_parse(full, &u) == 0 && !urlauth_valid(&u, full, dir, &why));
	imap_url_free(&u);
	/* an expired URL is refused even with the right token */
	const char *old = "imap://fred@example.test/INBOX/;UID=1;EXPIRE=2001-01-01T00:00:00Z;URLAUTH=authuser";
	free(t);
	t = urlauth_sign(k2, old, strlen(old));
	sprintf(full, "%s:INTERNAL:%s", old, t);
	CHECK(imap_url_parse(full, &u) == 0 && !urlauth_valid(&u, full, dir, &why));
	imap_url_free(&u);
	free(t);
	free(full);
}

int main(void)
{
	test_relative();
	test_absolute_and_urlauth();
	test_malformed();
	test_access();
	test_tokens();
	return check_summary("imapd_url");
}
