/* Unit tests: mailbox names between UTF-8 (IMAP4rev2) and the stored
 * modified UTF-7 (imapd/mboxname.c), and arg_mailbox's conversion. */
#include "imapd/commands.h"
#include "tests/unit/check.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

static void check_pair(const char *utf8, const char *mutf7)
{
	char *a = mbox_from_utf8(utf8), *b = mbox_to_utf8(mutf7);
	CHECK_STR(a, mutf7);
	CHECK_STR(b, utf8);
	free(a);
	free(b);
}

static void test_codec(void)
{
	check_pair("INBOX", "INBOX");
	check_pair("Archive.2024", "Archive.2024");
	check_pair("R&D", "R&-D");
	check_pair("Entwürfe", "Entw&APw-rfe");
	check_pair("日本語", "&ZeVnLIqe-");
	check_pair("日本語.Sub", "&ZeVnLIqe-.Sub");
	check_pair("a\xf0\x9f\x93\xa7" "b", "a&2D3c5w-b");	/* outside the BMP: a surrogate pair */
	/* control characters are not printable ASCII: encoded, like DEL */
	check_pair("a\x01" "b", "a&AAE-b");
	check_pair("\x7f", "&AH8-");
	/* not UTF-8 */
	CHECK(mbox_from_utf8("caf\xe9") == NULL);
	CHECK(mbox_from_utf8("\xc3") == NULL);
	CHECK(mbox_from_utf8("\xed\xa0\x80") == NULL);	/* an encoded surrogate */
	/* not modified UTF-7 */
	CHECK(mbox_to_utf8("caf\xc3\xa9") == NULL);	/* 8-bit */
	CHECK(mbox_to_utf8("&ZeVnLIqe") == NULL);	/* unterminated */
	CHECK(mbox_to_utf8("&AAA-") == NULL);		/* would hold a NUL */
	CHECK(mbox_to_utf8("&AGE-") == NULL);		/* "a", which must stay ASCII */
	CHECK(mbox_to_utf8("&") == NULL);
}

static void test_display(void)
{
	struct session rev1 = { 0 }, rev2 = { .rev2 = true };
	struct evbuffer *b = evbuffer_new();
	s_mailbox(&rev1, b, "Entw&APw-rfe");
	s_mailbox(&rev2, b, "Entw&APw-rfe");
	s_mailbox(&rev2, b, "a\"b");
	/* stored raw by another tool: shown as it is, quoted when it is UTF-8 */
	s_mailbox(&rev2, b, "Caf\xc3\xa9");
	s_mailbox(&rev2, b, "Caf\xe9");
	evbuffer_add(b, "", 1);
	CHECK_STR((const char *)evbuffer_pullup(b, -1),
		  "\"Entw&APw-rfe\"\"Entwürfe\"\"a\\\"b\"\"Café\"{4}\r\nCaf\xe9");
	evbuffer_free(b);
	char *d = mbox_display(&rev1, "&ZeVnLIqe-");
	CHECK_STR(d, "&ZeVnLIqe-");
	free(d);
	d = mbox_display(&rev2, "&ZeVnLIqe-");
	CHECK_STR(d, "日本語");
	free(d);
}

static char *mailbox_arg(const char *args, bool utf8, bool *bad)
{
	struct ip ip;
	ip_init(&ip, args, strlen(args));
	ip.utf8 = utf8;
	char *n = arg_mailbox(&ip);
	*bad = ip.bad;
	return n;
}

static void test_arg_mailbox(void)
{
	bool bad;
	char *n = mailbox_arg("\"Entwürfe\"", true, &bad);
	CHECK_STR(n, "Entw&APw-rfe");
	free(n);
	n = mailbox_arg("Entw&APw-rfe", false, &bad);	/* rev1: as sent */
	CHECK_STR(n, "Entw&APw-rfe");
	free(n);
	n = mailbox_arg("inbox", true, &bad);
	CHECK_STR(n, "INBOX");
	free(n);
	n = mailbox_arg("{5}\r\nR&D.x", true, &bad);
	CHECK_STR(n, "R&-D.x");
	free(n);
	CHECK(mailbox_arg("\"caf\xe9\"", true, &bad) == NULL && bad);
}

int main(void)
{
	test_codec();
	test_display();
	test_arg_mailbox();
	return check_summary("imapd_mboxname");
}
