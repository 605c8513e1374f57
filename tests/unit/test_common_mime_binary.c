/* Unit tests: binary body parts re-encoded as base64 for storage
 * (mime_binary.h): the decoded part is the octets sent, everything else is
 * unchanged. */
#include "common/mime.h"
#include "common/mime_binary.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int to_buf(void *arg, const char *p, size_t n)
{
	struct strbuf *b = arg;
	strbuf_add(b, p, n);
	return 0;
}

static int refuse(void *arg, const char *p, size_t n)
{
	return -1;
}

static struct strbuf encoded(const char *in, size_t len)
{
	struct strbuf b = { 0 };
	CHECK(mime_binary_encode(in, len, to_buf, &b) == 0);
	strbuf_add(&b, "", 0);
	return b;
}

/* Part spec of the encoded message decoded (BINARY) equals want[0, wl). */
static void part_is(const struct strbuf *b, const char *spec, const char *want, size_t wl)
{
	struct mime_msg *m = mime_parse(b->p, b->len);
	const struct mime_part *p = mime_find_part(m, spec);
	size_t n = 0;
	char *got = p ? mime_part_binary(m, p, &n) : NULL;
	CHECK(got && n == wl && !memcmp(got, want, wl));
	CHECK(p && ((p->enc && !strcmp(p->enc, "base64")) || !memchr(want, 0, wl)));
	free(got);
	mime_free(m);
}

static void test_single_part(void)
{
	/* imaptest's append-binary message */
	static const char in[] = "From: user@domain.org\r\nContent-Type: application/octet-stream\r\n"
				 "Content-Transfer-Encoding: binary\r\n\r\n\0-\xe4\n\r\n\n";
	struct strbuf b = encoded(in, sizeof in - 1);
	CHECK(strstr(b.p, "Content-Transfer-Encoding: base64\r\n\r\nAC3kCg0KCg==\r\n") != NULL);
	CHECK(!strstr(b.p, "binary"));
	part_is(&b, "1", "\0-\xe4\n\r\n\n", 7);
	free(b.p);
}

static void test_nested(void)
{
	static const char in[] =
		"Content-Type: multipart/mixed; boundary=o\r\nContent-Transfer-Encoding: binary\r\n\r\n"
		"--o\r\nContent-Type: text/plain\r\n\r\nplain\r\n"
		"--o\r\nContent-Transfer-Encoding: BINARY\r\nContent-Type: image/png\r\n\r\n\x89PNG\r\n\x1a\n\0\r\n"
		"--o\r\nContent-Type: message/rfc822\r\n\r\n"
		"Subject: inner\r\nContent-Transfer-Encoding: binary\r\n\r\n\r\r\n\0"
		"\r\n--o--\r\n";
	struct strbuf b = encoded(in, sizeof in - 1);
	/* the multipart's own field stays; the parts are base64 */
	static const char head[] = "Content-Type: multipart/mixed; boundary=o\r\n"
				   "Content-Transfer-Encoding: binary\r\n";
	CHECK(!strncmp(b.p, head, sizeof head - 1));
	CHECK(strstr(b.p, "--o\r\nContent-Type: text/plain\r\n\r\nplain\r\n--o\r\n") != NULL);
	part_is(&b, "1", "plain", 5);
	part_is(&b, "2", "\x89PNG\r\n\x1a\n\0", 9);
	part_is(&b, "3.1", "\r\r\n\0", 4);
	CHECK(strstr(b.p, "\r\n--o--\r\n") != NULL);
	free(b.p);
}

static void test_unchanged(void)
{
	static const char in[] = "Subject: x\r\nContent-Transfer-Encoding: 8bit\r\n\r\ncaf\xc3\xa9\r\n";
	struct strbuf b = encoded(in, sizeof in - 1);
	CHECK(b.len == sizeof in - 1 && !memcmp(b.p, in, b.len));
	free(b.p);
	CHECK(mime_binary_encode(in, sizeof in - 1, refuse, NULL) == -1);
}

int main(void)
{
	test_single_part();
	test_nested();
	test_unchanged();
	return check_summary("mime_binary");
}
