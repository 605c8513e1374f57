/* Unit tests: imapd command reader (literals, limits) and tokeniser. */
#include "imapd/parser.h"
#include "tests/unit/check.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static enum cr_status feed(struct cmdreader *r, struct evbuffer *in, const char *s, char *tag)
{
	evbuffer_add(in, s, strlen(s));
	return cr_feed(r, in, tag, 64);
}

static void test_reader(void)
{
	struct cmdreader r;
	struct evbuffer *in = evbuffer_new();
	char tag[64];
	cr_init(&r, 100, 1000, 5000);
	CHECK(feed(&r, in, "a1 NOOP", tag) == CR_MORE);
	CHECK(feed(&r, in, "\r\n", tag) == CR_DONE);
	CHECK(evbuffer_get_length(r.cmd) == 9);
	cr_reset(&r);
	/* synchronising literal: continuation, then the rest */
	CHECK(feed(&r, in, "a2 LOGIN {5}\r\n", tag) == CR_CONTINUE);
	CHECK(feed(&r, in, "alice {3+}\r\npw!\r\n", tag) == CR_DONE);
	struct ip ip;
	ip_init(&ip, (const char *)evbuffer_pullup(r.cmd, -1), evbuffer_get_length(r.cmd));
	char *t = ip_tag(&ip), *c = NULL, *u = NULL, *p = NULL;
	CHECK(t && ip_sp(&ip) && (c = ip_atom(&ip)) && ip_sp(&ip) && (u = ip_astring(&ip, NULL)) &&
	      ip_sp(&ip) && (p = ip_astring(&ip, NULL)) && ip_eol(&ip));
	CHECK_STR(u, "alice");
	CHECK_STR(p, "pw!");
	free(t); free(c); free(u); free(p);
	cr_reset(&r);
	/* limits: a literal over the command limit is refused before it is sent */
	CHECK(feed(&r, in, "a3 LOGIN {2000}\r\n", tag) == CR_LITERAL_TOOBIG);
	CHECK_STR(tag, "a3");
	CHECK(feed(&r, in, "a4 APPEND INBOX {4000}\r\n", tag) == CR_APPEND_LITERAL);	/* APPEND's own limit */
	CHECK(r.lit_sync && r.literal_left == 4000);
	cr_reset(&r);
	/* an APPEND literal spooled to a file: CRLF -> LF, the command keeps "{n}" */
	int fd = memfd_create("spool", 0);
	CHECK(feed(&r, in, "a8 APPEND INBOX (\\Seen) {9+}\r\n", tag) == CR_APPEND_LITERAL);
	CHECK(!r.lit_sync);
	cr_spool(&r, fd);
	CHECK(feed(&r, in, "ab\r\ncd\r", tag) == CR_MORE);
	CHECK(feed(&r, in, "\nx\r\n", tag) == CR_DONE);
	char got[16] = "";
	CHECK(pread(fd, got, sizeof got - 1, 0) == 7);
	CHECK_STR(got, "ab\ncd\nx");
	CHECK(evbuffer_get_length(r.cmd) == strlen("a8 APPEND INBOX (\\Seen) {9+}\r\n\r\n"));
	ip_init(&ip, (const char *)evbuffer_pullup(r.cmd, -1), evbuffer_get_length(r.cmd));
	uint64_t n = 0;
	ip.p = strchr(ip.p, '{');
	CHECK(ip_literal_header(&ip, &n) && n == 9 && ip_eol(&ip));
	close(fd);
	cr_reset(&r);
	/* a literal8 spooled raw: the octets exactly as sent (NUL, lone CR, CRLF) */
	fd = memfd_create("spool8", 0);
	CHECK(feed(&r, in, "a9 APPEND INBOX ~{8+}\r\n", tag) == CR_APPEND_LITERAL);
	cr_spool_raw(&r, fd);
	CHECK(evbuffer_add(in, "a\0\r\nb\rc\r", 8) == 0);
	CHECK(feed(&r, in, "\r\n", tag) == CR_DONE);
	char got8[16] = "";
	CHECK(pread(fd, got8, sizeof got8, 0) == 8 && !memcmp(got8, "a\0\r\nb\rc\r", 8));
	close(fd);
	cr_reset(&r);
	CHECK(feed(&r, in, "a5 APPEND INBOX {9000+}\r\n", tag) == CR_FATAL);
	/* an over-long line is skipped to its end and answered with its tag */
	char longline[300];
	memset(longline, 'x', sizeof longline);
	memcpy(longline, "a6 ", 3);
	longline[sizeof longline - 1] = '\0';
	CHECK(feed(&r, in, longline, tag) == CR_MORE);
	CHECK(feed(&r, in, "\r\n", tag) == CR_TOOLONG);
	CHECK_STR(tag, "a6");
	CHECK(feed(&r, in, "a7 NOOP\r\n", tag) == CR_DONE);
	cr_free(&r);
	evbuffer_free(in);
}

/* ID (RFC 2971) may be far longer than other commands, up to CR_ID_MAX. */
static enum cr_status feed_line(struct cmdreader *r, struct evbuffer *in, const char *head,
				size_t len, const char *tail, char *tag)
{
	evbuffer_add(in, head, strlen(head));
	for (size_t i = 0; i < len; i++)
		evbuffer_add(in, "v", 1);
	return feed(r, in, tail, tag);
}

static void test_id_limits(void)
{
	struct cmdreader r;
	struct evbuffer *in = evbuffer_new();
	char tag[64];
	cr_init(&r, 100, 1000, 5000);
	CHECK(cr_input_room(&r) > CR_ID_MAX);
	CHECK(feed_line(&r, in, "i1 ID (\"k\" \"", 40000, "\")\r\n", tag) == CR_DONE);
	CHECK(evbuffer_get_length(r.cmd) == 12 + 40000 + 4);
	cr_reset(&r);
	/* a literal value, over cmd_max but within the ID bound */
	CHECK(feed(&r, in, "i2 id (\"k\" {3000}\r\n", tag) == CR_CONTINUE);
	CHECK(feed_line(&r, in, "", 3000, ")\r\n", tag) == CR_DONE);
	cr_reset(&r);
	/* beyond CR_ID_MAX, and other commands at their own limit */
	CHECK(feed_line(&r, in, "i3 ID (", CR_ID_MAX, "", tag) == CR_MORE);
	CHECK(feed(&r, in, "\r\n", tag) == CR_TOOLONG);
	CHECK_STR(tag, "i3");
	CHECK(feed_line(&r, in, "i4 IDLE ", 200, "\r\n", tag) == CR_TOOLONG);
	CHECK_STR(tag, "i4");
	CHECK(feed(&r, in, "i5 ID NIL\r\n", tag) == CR_DONE);
	cr_free(&r);
	evbuffer_free(in);
}

static void test_tokens(void)
{
	const char *cmd = "t (a \"q\\\"x\" NIL {2}\r\nhi) \"unterminated\r\n";
	struct ip ip;
	ip_init(&ip, cmd, strlen(cmd));
	char *t = ip_tag(&ip);
	CHECK_STR(t, "t");
	free(t);
	CHECK(ip_sp(&ip) && ip_char(&ip, '('));
	char *a = ip_astring(&ip, NULL);
	CHECK_STR(a, "a");
	free(a);
	CHECK(ip_sp(&ip));
	char *q = ip_string(&ip, NULL);
	CHECK_STR(q, "q\"x");
	free(q);
	bool nil;
	CHECK(ip_sp(&ip) && ip_nstring(&ip, NULL, &nil) == NULL && nil);
	size_t n;
	CHECK(ip_sp(&ip));
	char *l = ip_string(&ip, &n);
	CHECK(l && n == 2 && !memcmp(l, "hi", 2));
	free(l);
	CHECK(ip_char(&ip, ')') && ip_sp(&ip));
	CHECK(ip_string(&ip, NULL) == NULL && ip.bad);
}

static void test_seqset(void)
{
	struct seqset s;
	CHECK(seqset_parse("1:3,7,10:*", &s));
	CHECK(seqset_has(&s, 2, 20) && seqset_has(&s, 7, 20) && !seqset_has(&s, 8, 20));
	CHECK(seqset_has(&s, 15, 20) && seqset_has(&s, 20, 20));
	seqset_free(&s);
	CHECK(seqset_parse("*:4", &s) && seqset_has(&s, 4, 2) && seqset_has(&s, 3, 2));
	seqset_free(&s);
	CHECK(!seqset_parse("0", &s));
	CHECK(!seqset_parse("1:", &s));
	CHECK(!seqset_parse("1,,2", &s));
	CHECK(!seqset_parse("99999999999", &s));
	CHECK(!seqset_parse("4294967296", &s));
	/* 4294967295 is a number, not "*": 1:4294967295 is every UID, and a
	 * range above the last UID names nothing (not the last message) */
	CHECK(seqset_parse("1:4294967295", &s) && seqset_has(&s, 7, 7) && seqset_has(&s, 1, 7));
	seqset_free(&s);
	CHECK(seqset_parse("8:4294967295", &s) && !seqset_has(&s, 7, 7));
	CHECK(!seqset_within(&s, 7) && seqset_has(&s, 4294967295u, 7));
	seqset_free(&s);
	CHECK(seqset_parse("8:*", &s) && seqset_has(&s, 7, 7) && seqset_within(&s, 8));
	seqset_free(&s);
	/* "$" (SEARCHRES) only alone; it has no ranges of its own */
	CHECK(seqset_parse("$", &s) && s.last && s.n == 0 && !seqset_has(&s, 1, 5));
	seqset_free(&s);
	CHECK(!seqset_parse("$,1", &s));
	CHECK(!seqset_parse("1,$", &s));
	CHECK(!seqset_parse("$:3", &s));
	CHECK(seqset_parse("2", &s) && !s.last);
	seqset_free(&s);
}

int main(void)
{
	test_reader();
	test_id_limits();
	test_tokens();
	test_seqset();
	return check_summary("imapd_parser");
}
