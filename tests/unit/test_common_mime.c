/* Unit tests: MIME parser — ENVELOPE, BODYSTRUCTURE, sections, decoding, limits. */
#include "common/mime.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <event2/buffer.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *render(struct mime_msg *m, int what)
{
	struct evbuffer *b = evbuffer_new();
	if (what == 'E')
		mime_envelope(m, m->root, b);
	else
		mime_bodystructure(m, m->root, what == 'S', b);
	evbuffer_add(b, "", 1);
	char *s = xstrdup((const char *)evbuffer_pullup(b, -1));
	evbuffer_free(b);
	return s;
}

static char *section(struct mime_msg *m, const char *spec)
{
	struct mime_section sec;
	if (mime_section(m, spec, &sec) < 0)
		return NULL;
	struct evbuffer *b = evbuffer_new();
	if (sec.kind == MIME_SEC_RANGE)
		evbuffer_add(b, m->buf + sec.off, sec.len);
	else
		mime_header_filter(m->buf + sec.off, sec.len, sec.fields, sec.nfields,
				   sec.kind == MIME_SEC_FIELDS_NOT, b);
	evbuffer_add(b, "", 1);
	char *s = xstrdup((const char *)evbuffer_pullup(b, -1));
	evbuffer_free(b);
	mime_section_free(&sec);
	return s;
}

static const char nested[] =
	"From: \"Doe, John\" <john@example.org>\n"
	"To: undisclosed:;, Mary <mary@example.test>,\n bob@example.test\n"
	"Subject: =?utf-8?q?caf=C3=A9?= menu\n"
	"Message-ID: <x@y>\n"
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/mixed; boundary=\"A\"\n"
	"\n"
	"--A\n"
	"Content-Type: text/plain; charset=iso-8859-1\n"
	"Content-Transfer-Encoding: quoted-printable\n"
	"\n"
	"caf=E9 au lait\n"
	"--A\n"
	"Content-Type: message/rfc822\n"
	"\n"
	"From: inner@example.org\n"
	"Subject: inner\n"
	"Content-Type: multipart/alternative; boundary=B\n"
	"\n"
	"--B\n"
	"\n"
	"plain\n"
	"--B\n"
	"Content-Type: text/html\n"
	"Content-Language: en, fr\n"
	"\n"
	"<b>x</b>\n"
	"--B--\n"
	"--A--\n";

static void test_nested(void)
{
	size_t len;
	char *buf = mime_to_crlf(nested, strlen(nested), &len);
	CHECK(len == mime_crlf_size(nested, strlen(nested)));
	struct mime_msg *m = mime_parse(buf, len);
	char *env = render(m, 'E');
	CHECK_STR(env, "(NIL \"=?utf-8?q?caf=C3=A9?= menu\" ((\"Doe, John\" NIL \"john\" \"example.org\")) "
		       "((\"Doe, John\" NIL \"john\" \"example.org\")) ((\"Doe, John\" NIL \"john\" \"example.org\")) "
		       "((NIL NIL \"undisclosed\" NIL)(NIL NIL NIL NIL)(\"Mary\" NIL \"mary\" \"example.test\")"
		       "(NIL NIL \"bob\" \"example.test\")) NIL NIL NIL \"<x@y>\")");
	char *bs = render(m, 'S');
	CHECK_STR(bs, "((\"text\" \"plain\" (\"charset\" \"iso-8859-1\") NIL NIL \"quoted-printable\" 14 0 NIL NIL NIL NIL)"
		      "(\"message\" \"rfc822\" NIL NIL NIL \"7BIT\" 179 "
		      "(NIL \"inner\" ((NIL NIL \"inner\" \"example.org\")) ((NIL NIL \"inner\" \"example.org\")) "
		      "((NIL NIL \"inner\" \"example.org\")) NIL NIL NIL NIL NIL) "
		      "((\"text\" \"plain\" NIL NIL NIL \"7BIT\" 5 0 NIL NIL NIL NIL)"
		      "(\"text\" \"html\" NIL NIL NIL \"7BIT\" 8 0 NIL NIL (\"en\" \"fr\") NIL) \"alternative\" "
		      "(\"boundary\" \"B\") NIL NIL NIL) 12 NIL NIL NIL NIL) "
		      "\"mixed\" (\"boundary\" \"A\") NIL NIL NIL)");
	char *body = render(m, 'B');
	CHECK(strstr(body, "\"alternative\")") != NULL && !strstr(body, "boundary"));
	char *s;
	CHECK_STR(s = section(m, "1"), "caf=E9 au lait");
	free(s);
	CHECK_STR(s = section(m, "2.HEADER.FIELDS (SUBJECT)"), "Subject: inner\r\n\r\n");
	free(s);
	CHECK_STR(s = section(m, "2.1"), "plain");
	free(s);
	CHECK_STR(s = section(m, "2.2.MIME"), "Content-Type: text/html\r\nContent-Language: en, fr\r\n\r\n");
	free(s);
	CHECK_STR(s = section(m, "HEADER.FIELDS.NOT (From To Subject Message-ID MIME-Version)"),
		  "Content-Type: multipart/mixed; boundary=\"A\"\r\n\r\n");
	free(s);
	CHECK_STR(s = section(m, "9.9"), "");	/* missing part: empty */
	free(s);
	CHECK(section(m, "1.BOGUS") == NULL);
	CHECK(section(m, "0") == NULL);
	/* decoding for SEARCH */
	char *subj = mime_header_get(buf, m->root->hdr_len, "subject");
	char *dec = mime_decode_words(subj);
	CHECK_STR(dec, "café menu");
	const struct mime_part *p1 = m->root->children;
	size_t tl;
	char *text = mime_body_text(m, p1, &tl);
	CHECK_STR(text, "café au lait");
	free(text);
	free(dec);
	free(subj);
	free(env);
	free(bs);
	free(body);
	mime_free(m);
	free(buf);
}

/* BODYSTRUCTURE of a one-part message with the given header lines. */
static char *bs_of(const char *headers)
{
	char *msg = xasprintf("%s\r\n\r\nx\r\n", headers);
	struct mime_msg *m = mime_parse(msg, strlen(msg));
	char *bs = render(m, 'S');
	mime_free(m);
	free(msg);
	return bs;
}

static void test_rfc2231(void)
{
	const char *msg = "Content-Type: application/pdf;\r\n name*0*=utf-8''%E2%82%AC;\r\n name*1=\" rates.pdf\"\r\n\r\nx";
	struct mime_msg *m = mime_parse(msg, strlen(msg));
	char *v = mime_param_decoded(m->root->params, m->root->nparams, "name");
	CHECK_STR(v, "€ rates.pdf");
	free(v);
	mime_free(m);

	/* BODYSTRUCTURE carries decoded parameters (RFC 9051 7.5.2): continuations
	 * joined (in section order, whatever the header order), %XX undone, the
	 * charset converted to UTF-8 (a literal, as it is 8-bit) */
	char *bs = bs_of("Content-Type: text/plain; charset=us-ascii;\r\n"
			 " title*2=\"three\"; title*0=\"one \"; title*1=\"two \"\r\n"
			 "Content-Disposition: attachment;\r\n"
			 " filename*=iso-8859-1'fr'caf%E9%20cr%E8me.txt");
	CHECK_STR(bs, "(\"text\" \"plain\" (\"charset\" \"us-ascii\" \"title\" \"one two three\") NIL NIL "
		      "\"7BIT\" 3 1 NIL (\"attachment\" (\"filename\" {16}\r\ncafé crème.txt)) NIL NIL)");
	free(bs);
	/* name*0*=charset''..., name*1*=%XX..., name*2= plain; a plain name= of
	 * the same parameter (an old client's fallback) takes the decoded value */
	bs = bs_of("Content-Type: application/octet-stream; name=\"fallback.bin\";\r\n"
		   " name*0*=utf-8'en'%E2%82%AC; name*1*=%20rates; name*2=\".bin\"");
	CHECK_STR(bs, "(\"application\" \"octet-stream\" (\"name\" {13}\r\n€ rates.bin) NIL NIL \"7BIT\" 3 "
		      "NIL NIL NIL NIL)");
	free(bs);
	/* %XX in a section without '*' is literal text; a gap ends the value
	 * (a section after it belongs to nothing and is dropped) */
	bs = bs_of("Content-Type: application/x-y; a*0=\"100%25\"; a*1*=%21; a*3=lost");
	CHECK_STR(bs, "(\"application\" \"x-y\" (\"a\" \"100%25!\") NIL NIL \"7BIT\" 3 "
		      "NIL NIL NIL NIL)");
	free(bs);
	/* an unknown charset: kept as written, never mangled */
	bs = bs_of("Content-Type: application/x-y; n*=x-no-such-charset''%41%42");
	CHECK_STR(bs, "(\"application\" \"x-y\" (\"n*\" \"x-no-such-charset''%41%42\") NIL NIL \"7BIT\" 3 "
		      "NIL NIL NIL NIL)");
	free(bs);
	/* an empty extended value is an empty string */
	bs = bs_of("Content-Type: application/x-y; e*=''");
	CHECK_STR(bs, "(\"application\" \"x-y\" (\"e\" \"\") NIL NIL \"7BIT\" 3 NIL NIL NIL NIL)");
	free(bs);
	/* not RFC 2231 names: "*" alone, leading zeros, letters after the star */
	bs = bs_of("Content-Type: application/x-y; *=1; b*01=2; c*x=3");
	CHECK_STR(bs, "(\"application\" \"x-y\" (\"*\" \"1\" \"b*01\" \"2\" \"c*x\" \"3\") NIL NIL \"7BIT\" 3 "
		      "NIL NIL NIL NIL)");
	free(bs);
	/* many encoded values: only the first MIME parser budget's worth is decoded,
	 * the rest stays as written (bounded iconv work per parameter list) */
	struct evbuffer *h = evbuffer_new();
	evbuffer_add_printf(h, "Content-Type: application/x-y");
	for (int i = 0; i < 40; i++)
		evbuffer_add_printf(h, ";\r\n p%d*=latin1''%%E9", i);
	evbuffer_add(h, "", 1);
	bs = bs_of((const char *)evbuffer_pullup(h, -1));
	CHECK(strstr(bs, "(\"p0\" {2}\r\né") != NULL);
	CHECK(strstr(bs, "\"p39*\" \"latin1''%E9\"") != NULL);
	free(bs);
	evbuffer_free(h);
}

static void test_limits(void)
{
	/* 100 nested multiparts: parsing stops at the depth limit, never fails */
	struct evbuffer *b = evbuffer_new();
	for (int i = 0; i < 100; i++)
		evbuffer_add_printf(b, "Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n", i, i);
	evbuffer_add_printf(b, "\r\ndeep\r\n");
	size_t n = evbuffer_get_length(b);
	char *buf = xstrndup((const char *)evbuffer_pullup(b, -1), n);
	struct mime_msg *m = mime_parse(buf, n);
	CHECK(m->nparts <= MIME_MAX_DEPTH + 2);
	char *bs = render(m, 'S');
	CHECK(bs[0] == '(');
	free(bs);
	mime_free(m);
	free(buf);
	evbuffer_free(b);
	/* a message without header or body */
	m = mime_parse("", 0);
	bs = render(m, 'S');
	CHECK_STR(bs, "(\"text\" \"plain\" NIL NIL NIL \"7BIT\" 0 0 NIL NIL NIL NIL)");
	free(bs);
	mime_free(m);
}

static int second_value(const char *name, const char *value, void *arg)
{
	char **out = arg;
	if (!strcmp(name, "X-B"))
		*out = strdup(value);
	return 0;
}

/* The raw walk keeps what the unfolded one drops: the leading space,
 * folding CRLFs, trailing blanks; both stop at the field's final CRLF. */
static void test_header_raw(void)
{
	static const char h[] = "X-A: one\r\nX-B:  two\r\n\tthree \r\nX-C: four\r\n\r\n";
	char *v = NULL;
	mime_header_each_raw(h, sizeof h - 1, second_value, &v);
	CHECK(v && !strcmp(v, "  two\r\n\tthree "));
	free(v);
	v = NULL;
	mime_header_each(h, sizeof h - 1, second_value, &v);
	CHECK(v && !strcmp(v, "two\tthree"));
	free(v);
	v = NULL;
	mime_header_each_raw("X-B:", 4, second_value, &v);	/* no CRLF, no value */
	CHECK(v && !strcmp(v, ""));
	free(v);
}

int main(void)
{
	test_header_raw();
	test_nested();
	test_rfc2231();
	test_limits();
	return check_summary("mime");
}
