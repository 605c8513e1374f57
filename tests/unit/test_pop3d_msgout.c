/* Unit tests: RETR/TOP writer (LF to CRLF, dot-stuffing, TOP cut-off) and the
 * CRLF size count that LIST/STAT report. */
#include "pop3d/msgout.h"
#include "tests/unit/check.h"

#include <stdlib.h>
#include <string.h>

/* Convert msg fed in chunks of size step; returns a malloc'd NUL-terminated result. */
static char *convert(const char *msg, long top, size_t step)
{
	size_t n = strlen(msg);
	char *out = malloc(2 * n + 8);
	size_t o = 0;
	struct msgout w;
	msgout_init(&w, top);
	for (size_t i = 0; i < n; i += step) {
		size_t k = n - i < step ? n - i : step;
		o += msgout_feed(&w, msg + i, k, out + o);
	}
	o += msgout_finish(&w, out + o);
	out[o] = '\0';
	return out;
}

static uint64_t size_of(const char *msg, size_t step)
{
	struct msgsize s = { 0 };
	size_t n = strlen(msg);
	for (size_t i = 0; i < n; i += step)
		msgsize_feed(&s, msg + i, n - i < step ? n - i : step);
	return msgsize_end(&s);
}

/* The wire form minus stuffing and the terminator has exactly the counted size. */
static void check_roundtrip(const char *msg)
{
	for (size_t step = 1; step <= 7; step += 3) {
		char *o = convert(msg, -1, step);
		size_t len = strlen(o) - 3;	/* ".\r\n" */
		size_t dots = 0;
		for (size_t i = 0; i < len; i++)
			if (o[i] == '.' && (i == 0 || o[i - 1] == '\n'))
				dots++;
		CHECK(len - dots == size_of(msg, step));
		free(o);
	}
}

static void test_crlf(void)
{
	for (size_t step = 1; step <= 64; step *= 2) {
		char *o = convert("A: b\n\nline1\nline2\n", -1, step);
		CHECK_STR(o, "A: b\r\n\r\nline1\r\nline2\r\n.\r\n");
		free(o);
		/* Already CRLF: unchanged; CR split from LF across chunks. */
		o = convert("A: b\r\n\r\nx\r\n", -1, step);
		CHECK_STR(o, "A: b\r\n\r\nx\r\n.\r\n");
		free(o);
	}
	char *o = convert("no newline at end", -1, 5);
	CHECK_STR(o, "no newline at end\r\n.\r\n");
	free(o);
	o = convert("", -1, 1);
	CHECK_STR(o, ".\r\n");
	free(o);
}

static void test_dots(void)
{
	char *o = convert(".start\n\n.\n..two\nmid.dle\n.", -1, 3);
	CHECK_STR(o, "..start\r\n\r\n..\r\n...two\r\nmid.dle\r\n..\r\n.\r\n");
	free(o);
}

static void test_top(void)
{
	const char *m = "Subject: x\nFrom: y\n\nb1\n.b2\nb3\n";
	for (size_t step = 1; step <= 8; step++) {
		char *o = convert(m, 0, step);
		CHECK_STR(o, "Subject: x\r\nFrom: y\r\n\r\n.\r\n");
		free(o);
		o = convert(m, 2, step);
		CHECK_STR(o, "Subject: x\r\nFrom: y\r\n\r\nb1\r\n..b2\r\n.\r\n");
		free(o);
		o = convert(m, 99, step);
		CHECK_STR(o, "Subject: x\r\nFrom: y\r\n\r\nb1\r\n..b2\r\nb3\r\n.\r\n");
		free(o);
	}
	/* CRLF blank line ends the header too; a line of just "\r\r\n" does not. */
	char *o = convert("A: 1\r\n\r\r\nB\r\n\r\nbody\r\nmore\r\n", 1, 4);
	CHECK_STR(o, "A: 1\r\n\r\r\nB\r\n\r\nbody\r\n.\r\n");
	free(o);
	/* No body at all. */
	o = convert("A: 1\n", 5, 2);
	CHECK_STR(o, "A: 1\r\n.\r\n");
	free(o);
}

static void test_sizes(void)
{
	CHECK(size_of("a\nb\n", 1) == 6);
	CHECK(size_of("a\r\nb\n", 2) == 6);
	CHECK(size_of("ab", 1) == 4);
	CHECK(size_of("", 1) == 0);
	check_roundtrip("A: b\n\nline1\r\n.dot\nx");
	check_roundtrip("\r\r\n\n\r\n.\n..\n");
	check_roundtrip("plain\n");
}

int main(void)
{
	test_crlf();
	test_dots();
	test_top();
	test_sizes();
	return check_summary("pop3d_msgout");
}
