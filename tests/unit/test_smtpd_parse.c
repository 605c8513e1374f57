/* Unit tests for smtpd/parse.c: commands, MAIL/RCPT paths and ESMTP
 * parameters, HELO, BDAT, base64 and SASL PLAIN. */
#include "tests/unit/check.h"
#include "smtpd/parse.h"
#include "common/queue_proto.h"

#include <stdio.h>
#include <string.h>

static void test_commands(void)
{
	struct smtp_cmd c;
	parse_command("ehlo client.example", &c);
	CHECK(c.verb == V_EHLO);
	CHECK_STR(c.arg, "client.example");
	parse_command("MAIL FROM:<a@b.c>", &c);
	CHECK(c.verb == V_MAIL);
	CHECK_STR(c.arg, "FROM:<a@b.c>");
	parse_command("QUIT", &c);
	CHECK(c.verb == V_QUIT && !*c.arg);
	parse_command("StartTLS", &c);
	CHECK(c.verb == V_STARTTLS);
	parse_command("MAILX FROM:<a@b>", &c);
	CHECK(c.verb == V_UNKNOWN);
	parse_command("", &c);
	CHECK(c.verb == V_UNKNOWN);
	parse_command("\x01\xff garbage", &c);
	CHECK(c.verb == V_UNKNOWN);
	CHECK_STR(verb_name(V_BDAT), "BDAT");
}

static void test_mail(void)
{
	struct mail_args m;
	CHECK(parse_mail("FROM:<user@example.org>", &m) == P_OK);
	CHECK_STR(m.addr, "user@example.org");
	CHECK(!m.has_size && m.body == BODY_NONE && !m.smtputf8);
	CHECK(parse_mail("from:<>", &m) == P_OK && m.addr[0] == '\0');
	CHECK(parse_mail("FROM: <a@b.example>", &m) == P_OK);
	CHECK(parse_mail("FROM:<@relay.example,@r2.example:a@b.example>", &m) == P_OK);
	CHECK_STR(m.addr, "a@b.example");
	CHECK(parse_mail("FROM:<a@b.example> SIZE=1000 BODY=8BITMIME RET=HDRS ENVID=abc+2Bdef", &m) == P_OK);
	CHECK(m.has_size && m.size == 1000 && m.body == BODY_8BITMIME && m.ret == RET_HDRS);
	CHECK_STR(m.envid, "abc+2Bdef");
	CHECK(parse_mail("FROM:<a@b.example> body=7bit", &m) == P_OK && m.body == BODY_7BIT);
	CHECK(parse_mail("FROM:<a@b.example> AUTH=<>", &m) == P_OK);
	/* syntax */
	CHECK(parse_mail("FROM:a@b.example", &m) == P_SYNTAX);
	CHECK(parse_mail("TO:<a@b.example>", &m) == P_SYNTAX);
	CHECK(parse_mail("FROM:<a@b.example", &m) == P_SYNTAX);
	CHECK(parse_mail("FROM:<a@b.example>x", &m) == P_SYNTAX);
	/* addresses */
	CHECK(parse_mail("FROM:<ab.example>", &m) == P_BAD_ADDR);
	CHECK(parse_mail("FROM:<a..b@x.example>", &m) == P_BAD_ADDR);
	CHECK(parse_mail("FROM:<a@-x.example>", &m) == P_BAD_ADDR);
	CHECK(parse_mail("FROM:<a@x..example>", &m) == P_BAD_ADDR);
	CHECK(parse_mail("FROM:<a b@x.example>", &m) == P_BAD_ADDR);
	CHECK(parse_mail("FROM:<\"a b\"@x.example>", &m) == P_OK);
	CHECK(parse_mail("FROM:<\"a>b\"@x.example>", &m) == P_OK);
	CHECK_STR(m.addr, "\"a>b\"@x.example");
	CHECK(parse_mail("FROM:<a@[192.0.2.1]>", &m) == P_OK);
	CHECK(parse_mail("FROM:<a@[1.2\\3]>", &m) == P_BAD_ADDR);
	char longlocal[300];
	snprintf(longlocal, sizeof longlocal, "FROM:<%065d@x.example>", 1);
	CHECK(parse_mail(longlocal, &m) == P_BAD_ADDR);
	/* parameters */
	CHECK(parse_mail("FROM:<a@b.example> FOO=bar", &m) == P_UNKNOWN_PARAM);
	CHECK(parse_mail("FROM:<a@b.example> SIZE=abc", &m) == P_BAD_PARAM);
	CHECK(parse_mail("FROM:<a@b.example> SIZE=99999999999999999999999", &m) == P_BAD_PARAM);
	CHECK(parse_mail("FROM:<a@b.example> SIZE=1 SIZE=2", &m) == P_BAD_PARAM);
	CHECK(parse_mail("FROM:<a@b.example> BODY=BINARYMIME", &m) == P_BAD_PARAM);
	CHECK(parse_mail("FROM:<a@b.example> RET=ALL", &m) == P_BAD_PARAM);
	CHECK(parse_mail("FROM:<a@b.example> ENVID=a=b", &m) == P_BAD_PARAM);
	CHECK(parse_mail("FROM:<a@b.example> ENVID=a+zz", &m) == P_BAD_PARAM);
	CHECK(parse_mail("FROM:<a@b.example> SMTPUTF8=yes", &m) == P_BAD_PARAM);
	/* REQUIRETLS (RFC 8689 2): no value, at most once */
	CHECK(parse_mail("FROM:<a@b.example> REQUIRETLS", &m) == P_OK && m.requiretls);
	CHECK(parse_mail("FROM:<a@b.example>", &m) == P_OK && !m.requiretls);
	CHECK(parse_mail("FROM:<a@b.example> REQUIRETLS=yes", &m) == P_BAD_PARAM);
	CHECK(parse_mail("FROM:<a@b.example> REQUIRETLS REQUIRETLS", &m) == P_BAD_PARAM);
	/* SMTPUTF8 */
	CHECK(parse_mail("FROM:<j\xc3\xb6rg@b\xc3\xa4r.example>", &m) == P_NEED_UTF8);
	CHECK(parse_mail("FROM:<j\xc3\xb6rg@b\xc3\xa4r.example> SMTPUTF8", &m) == P_OK && m.smtputf8);
	CHECK(parse_mail("FROM:<j\xc3rg@x.example> SMTPUTF8", &m) == P_BAD_ADDR);
}

static void test_rcpt(void)
{
	struct rcpt_args r;
	CHECK(parse_rcpt("TO:<u@example.org>", false, &r) == P_OK);
	CHECK_STR(r.addr, "u@example.org");
	CHECK(r.notify == 0 && !r.orcpt[0]);
	CHECK(parse_rcpt("TO:<Postmaster>", false, &r) == P_OK);
	CHECK(parse_rcpt("TO:<>", false, &r) == P_BAD_ADDR);
	CHECK(parse_rcpt("TO:<u@example.org> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;u+40example.org", false, &r) == P_OK);
	CHECK(r.notify == (DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE));
	CHECK_STR(r.orcpt, "rfc822;u+40example.org");
	CHECK(parse_rcpt("TO:<u@example.org> NOTIFY=NEVER", false, &r) == P_OK && r.notify == DSN_NOTIFY_NEVER);
	CHECK(parse_rcpt("TO:<u@example.org> NOTIFY=NEVER,DELAY", false, &r) == P_BAD_PARAM);
	CHECK(parse_rcpt("TO:<u@example.org> NOTIFY=SOMETIMES", false, &r) == P_BAD_PARAM);
	CHECK(parse_rcpt("TO:<u@example.org> ORCPT=nosemicolon", false, &r) == P_BAD_PARAM);
	CHECK(parse_rcpt("TO:<u@example.org> SIZE=10", false, &r) == P_UNKNOWN_PARAM);
	CHECK(parse_rcpt("TO:<\xc3\xa9@example.org>", false, &r) == P_NEED_UTF8);
	CHECK(parse_rcpt("TO:<\xc3\xa9@example.org>", true, &r) == P_OK);
	CHECK(parse_rcpt("FROM:<u@example.org>", false, &r) == P_SYNTAX);
}

static void test_helo_bdat(void)
{
	char h[SMTP_HELO_MAX + 1];
	CHECK(parse_helo("client.example", h, sizeof h));
	CHECK_STR(h, "client.example");
	CHECK(parse_helo("[192.0.2.1] extra", h, sizeof h));
	CHECK_STR(h, "[192.0.2.1]");
	CHECK(!parse_helo("", h, sizeof h));
	CHECK(!parse_helo("bad\x01name", h, sizeof h));
	uint64_t sz;
	bool last;
	CHECK(parse_bdat("100", &sz, &last) && sz == 100 && !last);
	CHECK(parse_bdat("0 LAST", &sz, &last) && sz == 0 && last);
	CHECK(parse_bdat("7 last", &sz, &last) && sz == 7 && last);
	CHECK(!parse_bdat("", &sz, &last));
	CHECK(!parse_bdat("-1", &sz, &last));
	CHECK(!parse_bdat("12 LASTX", &sz, &last));
	CHECK(!parse_bdat("1234567890123456", &sz, &last));
}

static void test_burl(void)
{
	char url[BURL_URL_MAX + 1];
	bool last;
	struct smtp_cmd c;
	parse_command("BURL imap://u@h/INBOX/;UID=1 LAST", &c);
	CHECK(c.verb == V_BURL);
	CHECK(parse_burl(c.arg, url, sizeof url, &last) && last);
	CHECK_STR(url, "imap://u@h/INBOX/;UID=1");
	CHECK(parse_burl("IMAP://u@h/x", url, sizeof url, &last) && !last);
	CHECK(!parse_burl("", url, sizeof url, &last));
	CHECK(!parse_burl("http://h/x", url, sizeof url, &last));
	CHECK(!parse_burl("imap://", url, sizeof url, &last));
	CHECK(!parse_burl("imap://u@h/x FIRST", url, sizeof url, &last));
	CHECK(!parse_burl("imap://u@h/x LAST more", url, sizeof url, &last));
	CHECK(!parse_burl("imap://u@h/\x01", url, sizeof url, &last));
	char big[BURL_URL_MAX + 16];
	memset(big, 'a', sizeof big - 1);
	memcpy(big, "imap://", 7);
	big[sizeof big - 1] = '\0';
	CHECK(!parse_burl(big, url, sizeof url, &last));
	CHECK(!parse_burl("imap://u@h/x", url, 8, &last));	/* no room */
}

static void test_base64_sasl(void)
{
	unsigned char out[64];
	char enc[64];
	CHECK(b64_decode("AHVzZXIAcGFzcw==", out, sizeof out) == 10);
	CHECK(!memcmp(out, "\0user\0pass", 10));
	b64_encode((const unsigned char *)"\0user\0pass", 10, enc);
	CHECK_STR(enc, "AHVzZXIAcGFzcw==");
	CHECK(b64_decode("", out, sizeof out) == 0);
	CHECK(b64_decode("abc", out, sizeof out) == -1);
	CHECK(b64_decode("a=bc", out, sizeof out) == -1);
	CHECK(b64_decode("ab!c", out, sizeof out) == -1);
	CHECK(b64_decode("YWJj", out, 2) == -1);
	CHECK(b64_decode("cF==", out, sizeof out) == -1);	/* non-canonical */
	CHECK(b64_decode("cA==", out, sizeof out) == 1);

	unsigned char buf[64];
	const char *u, *p;
	memcpy(buf, "\0user@x.example\0secret", 22);
	CHECK(parse_sasl_plain(buf, 22, &u, &p));
	CHECK_STR(u, "user@x.example");
	CHECK_STR(p, "secret");
	memcpy(buf, "other\0user\0secret", 17);
	CHECK(!parse_sasl_plain(buf, 17, &u, &p));	/* authzid differs */
	memcpy(buf, "user\0user\0secret", 16);
	CHECK(parse_sasl_plain(buf, 16, &u, &p));
	memcpy(buf, "\0user", 5);
	CHECK(!parse_sasl_plain(buf, 5, &u, &p));
	memcpy(buf, "\0\0secret", 8);
	CHECK(!parse_sasl_plain(buf, 8, &u, &p));
	memcpy(buf, "\0u\0p\0q", 6);
	CHECK(!parse_sasl_plain(buf, 6, &u, &p));
}

static void test_utf8(void)
{
	CHECK(utf8_valid("abc", 3));
	CHECK(utf8_valid("\xc3\xa9", 2));
	CHECK(utf8_valid("\xf0\x9f\x98\x80", 4));
	CHECK(!utf8_valid("\xc0\xaf", 2));		/* overlong */
	CHECK(!utf8_valid("\xed\xa0\x80", 3));	/* surrogate */
	CHECK(!utf8_valid("\xc2\x85", 2));		/* C1 control */
	CHECK(!utf8_valid("a\tb", 3));
	CHECK(!utf8_valid("\xe2\x82", 2));		/* truncated */
}

int main(void)
{
	test_commands();
	test_mail();
	test_rcpt();
	test_helo_bdat();
	test_burl();
	test_base64_sasl();
	test_utf8();
	return check_summary("smtpd_parse");
}
