/* Unit tests for smtpd/data.c: dot-unstuffing, the CRLF.CRLF terminator and
 * nothing else, bare CR/LF detection, line and size limits, BDAT. */
#include "tests/unit/check.h"
#include "smtpd/data.h"

#include <stdlib.h>
#include <string.h>

struct sink {
	char buf[4096];
	size_t n;
};

static void emit(void *arg, const char *p, size_t n)
{
	struct sink *s = arg;
	if (s->n + n <= sizeof s->buf) {
		memcpy(s->buf + s->n, p, n);
		s->n += n;
	}
}

/* Feed input in pieces of `step` bytes (to test every split point). */
static size_t feed(struct data_sm *d, struct sink *s, const char *in, size_t step)
{
	size_t n = strlen(in), used = 0;
	memset(s, 0, sizeof *s);
	while (used < n && !d->done) {
		size_t k = n - used < step ? n - used : step;
		used += data_feed(d, in + used, k, emit, s);
	}
	return used;
}

static void check_data(const char *in, const char *want, unsigned errors, size_t rest)
{
	for (size_t step = 1; step <= strlen(in) + 1; step++) {
		struct data_sm d;
		struct sink s;
		data_init(&d, true, 998, 1 << 20);
		size_t used = feed(&d, &s, in, step);
		CHECK(d.done == (rest != (size_t)-1));
		CHECK(d.errors == errors);
		if (rest != (size_t)-1)
			CHECK(strlen(in) - used == rest);
		if (!errors) {
			CHECK(s.n == strlen(want) && !memcmp(s.buf, want, s.n));
		}
		if (d.errors != errors || (!errors && (s.n != strlen(want) || memcmp(s.buf, want, s.n))))
			return;	/* one report per case is enough */
	}
}

static void test_dot(void)
{
	check_data("Subject: x\r\n\r\nhello\r\n.\r\n", "Subject: x\r\n\r\nhello\r\n", 0, 0);
	check_data(".\r\n", "", 0, 0);
	check_data("a\r\n..b\r\n...\r\n.\r\nQUIT\r\n", "a\r\n.b\r\n..\r\n", 0, 6);
	check_data("a\r\n.x\r\n.\r\n", "a\r\nx\r\n", 0, 0);
	/* not complete yet */
	check_data("a\r\n.\r", "a\r\n", 0, (size_t)-1);
	check_data("a\r\n", "a\r\n", 0, (size_t)-1);
}

static void test_smuggling(void)
{
	/* Each variant is a bare LF or CR; none ends the data; all are errors. */
	check_data("a\n.\nMAIL FROM:<x@y>\r\n.\r\n", NULL, DE_BARE_LF, 0);
	check_data("a\r.\rMAIL FROM:<x@y>\r\n.\r\n", NULL, DE_BARE_CR, 0);
	check_data("a\r\n.\nMAIL FROM:<x@y>\r\n.\r\n", NULL, DE_BARE_LF, 0);
	check_data("a\n.\r\nMAIL FROM:<x@y>\r\n.\r\n", NULL, DE_BARE_LF, 0);
	check_data("a\r\r\n.\r\n", NULL, DE_BARE_CR, 0);
	check_data("a\r\n.\r.\r\n.\r\n", NULL, DE_BARE_CR, 0);
	/* the smuggled part never ends the data: everything up to the real end is eaten */
	struct data_sm d;
	struct sink s;
	data_init(&d, true, 998, 1 << 20);
	const char *in = "x\n.\nRSET\r\n";
	size_t used = feed(&d, &s, in, 100);
	CHECK(!d.done && used == strlen(in));
}

static void test_limits(void)
{
	char line[1200];
	memset(line, 'a', 999);
	strcpy(line + 999, "\r\n.\r\n");
	check_data(line, NULL, DE_LONG_LINE, 0);
	memset(line, 'a', 998);
	strcpy(line + 998, "\r\n.\r\n");
	struct data_sm d;
	struct sink s;
	data_init(&d, true, 998, 1 << 20);
	feed(&d, &s, line, 7);
	CHECK(d.done && d.errors == 0 && d.size == 1000);

	data_init(&d, true, 998, 10);
	feed(&d, &s, "0123456789\r\n.\r\n", 3);
	CHECK(d.done && d.errors == DE_TOO_BIG);
	CHECK(s.n <= 10);
	data_init(&d, true, 998, 12);
	feed(&d, &s, "0123456789\r\n.\r\n", 3);
	CHECK(d.done && d.errors == 0 && d.size == 12);

	data_init(&d, true, 998, 100);
	feed(&d, &s, "caf\xc3\xa9\r\n.\r\n", 1);
	CHECK(d.eight_bit && d.errors == 0);
}

static void test_bdat(void)
{
	struct data_sm d;
	struct sink s = { .n = 0 };
	data_init(&d, false, 998, 1 << 20);
	const char *a = "Subject: x\r\n\r\n.hello\r";
	const char *b = "\n.\r\nend";
	CHECK(data_feed(&d, a, strlen(a), emit, &s) == strlen(a));
	CHECK(data_feed(&d, b, strlen(b), emit, &s) == strlen(b));
	CHECK(!d.done);
	data_finish(&d, emit, &s);
	CHECK(d.done && d.errors == 0);
	const char *want = "Subject: x\r\n\r\n.hello\r\n.\r\nend\r\n";
	CHECK(s.n == strlen(want) && !memcmp(s.buf, want, s.n));

	data_init(&d, false, 998, 1 << 20);
	s.n = 0;
	data_feed(&d, "a\nb", 3, emit, &s);
	CHECK(d.errors == DE_BARE_LF);
	data_init(&d, false, 998, 1 << 20);
	data_feed(&d, "a\r", 2, emit, &s);
	data_finish(&d, emit, &s);
	CHECK(d.errors == DE_BARE_CR);
}

int main(void)
{
	test_dot();
	test_smuggling();
	test_limits();
	test_bdat();
	return check_summary("smtpd_data");
}
