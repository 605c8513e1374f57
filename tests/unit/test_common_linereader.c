/* Unit tests: bounded line reader (evbuffer and fd), line endings, limits. */
#include "common/linereader.h"
#include "tests/unit/check.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <unistd.h>

static void test_evbuffer(void)
{
	struct evbuffer *b = evbuffer_new();
	struct line l;
	evbuffer_add(b, "HELO a\r\nbare\nmid\rcr\r\npartial", 28);
	CHECK(line_read(b, 512, &l) == LINE_OK);
	CHECK_STR(l.text, "HELO a");
	CHECK(l.crlf && !l.bare_cr);
	line_free(&l);
	CHECK(line_read(b, 512, &l) == LINE_OK);
	CHECK_STR(l.text, "bare");
	CHECK(!l.crlf);
	line_free(&l);
	CHECK(line_read(b, 512, &l) == LINE_OK);
	CHECK(l.crlf && l.bare_cr && l.len == 6);
	line_free(&l);
	CHECK(line_read(b, 512, &l) == LINE_MORE);
	evbuffer_add(b, "\r\n", 2);
	CHECK(line_read(b, 512, &l) == LINE_OK);
	CHECK_STR(l.text, "partial");
	line_free(&l);

	/* Limit counts the ending: 10 bytes incl CRLF fits max 10, 11 does not. */
	evbuffer_add(b, "12345678\r\n123456789\r\nok\r\n", 25);
	CHECK(line_read(b, 10, &l) == LINE_OK);
	line_free(&l);
	CHECK(line_read(b, 10, &l) == LINE_TOOLONG);
	CHECK(line_skip(b));
	CHECK(line_read(b, 10, &l) == LINE_OK);
	CHECK_STR(l.text, "ok");
	line_free(&l);

	/* No LF yet but already over the limit: TOOLONG without waiting. */
	evbuffer_add(b, "xxxxxxxxxxxxxxxxxxxx", 20);
	CHECK(line_read(b, 10, &l) == LINE_TOOLONG);
	CHECK(!line_skip(b));
	CHECK(evbuffer_get_length(b) == 0);

	evbuffer_add(b, "a\0b\r\n", 5);
	CHECK(line_read(b, 10, &l) == LINE_OK);
	CHECK(l.has_nul && l.len == 3);
	line_free(&l);
	evbuffer_free(b);
}

static void test_fd(void)
{
	int p[2];
	struct fdreader r;
	struct line l;
	CHECK(pipe(p) == 0);
	const char *in = "one\r\ntwo\nthisistoolong\nlast";
	CHECK(write(p[1], in, strlen(in)) == (ssize_t)strlen(in));
	close(p[1]);
	fdreader_init(&r, p[0]);
	CHECK(fdreader_line(&r, 10, &l) == LINE_OK);
	CHECK_STR(l.text, "one");
	CHECK(l.crlf);
	line_free(&l);
	CHECK(fdreader_line(&r, 10, &l) == LINE_OK);
	CHECK_STR(l.text, "two");
	line_free(&l);
	CHECK(fdreader_line(&r, 10, &l) == LINE_TOOLONG);
	CHECK(fdreader_line(&r, 10, &l) == LINE_OK);
	CHECK_STR(l.text, "last");
	CHECK(!l.crlf);
	line_free(&l);
	CHECK(fdreader_line(&r, 10, &l) == LINE_MORE);
	close(p[0]);
}

int main(void)
{
	test_evbuffer();
	test_fd();
	return check_summary("linereader");
}
