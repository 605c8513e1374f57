/* Unit tests: RFC 2047 encoded words (mime_decode_words), and that decoding a
 * header value costs time linear in its length: a folded Subject of a few
 * hundred kB full of "=?" starts that are no encoded words made SELECT take
 * seconds per message (issue 19 item 11). */
#include "common/mime.h"
#include "tests/unit/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void check_decodes(const char *in, const char *want)
{
	char *out = mime_decode_words(in);
	CHECK_STR(out, want);
	if (strcmp(out, want))
		printf("  %s -> %s (wanted %s)\n", in, out, want);
	free(out);
}

static void test_words(void)
{
	check_decodes("=?iso-8859-1?q?caf=E9?= menu", "caf\xc3\xa9 menu");
	check_decodes("=?UTF-8?B?w6l0w6k=?=", "\xc3\xa9t\xc3\xa9");
	check_decodes("=?utf-8?q?a?= =?utf-8?q?b?=", "ab");		/* space between words dropped */
	check_decodes("=?utf-8?q?a?= x =?utf-8?q?b?=", "a x b");
	check_decodes("=?utf-8*en?q?hi_there?=", "hi there");		/* RFC 2231 language */
	check_decodes("=?koi8-r?b?8NLJ18XU?=", "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
	check_decodes("=?iso-8859-1?q?=E9?= =?koi8-r?b?8A==?= =?iso-8859-1?q?=E9?=",
		      "\xc3\xa9\xd0\x9f\xc3\xa9");		/* converters change and return */
	check_decodes("plain =? not a word ?= at all", "plain =? not a word ?= at all");
	check_decodes("=?x?z?bad?=", "=?x?z?bad?=");			/* unknown encoding */
	check_decodes("=?a?q?", "=?a?q?");
	check_decodes("", "");
}

static double seconds(const char *pattern, size_t n)
{
	size_t pl = strlen(pattern);
	char *s = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		s[i] = pattern[i % pl];
	s[n] = '\0';
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	char *out = mime_decode_words(s);
	clock_gettime(CLOCK_MONOTONIC, &b);
	CHECK(out && strlen(out) > 0);
	free(out);
	free(s);
	return (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
}

/* 2 MB of each: quadratic decoding took minutes for the first three (14 s
 * for 1 MB of the first); linear takes well under a second, under ASan too. */
static void test_linear(void)
{
	static const char *const patterns[] = {
		"=?a?q?x",			/* encoded words that never end */
		"=?utf-8?x",			/* starts with a charset, no encoding */
		"=?",
		"=?iso-8859-1?q?a?= ",		/* real words, one converter for all */
		"=?aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa?q?x=?a?q?",
	};
	for (size_t i = 0; i < sizeof patterns / sizeof *patterns; i++) {
		double t = seconds(patterns[i], 2u << 20);
		CHECK(t < 3.0);
		if (t >= 3.0)
			printf("  %s: %.2f s for 2 MB\n", patterns[i], t);
	}
}

/* Each word at most 75 characters, lines joined by CRLF SP, whole UTF-8
 * characters per word; decoding gives the text back. */
static void check_round_trip(const char *text)
{
	char *w = mime_encode_words(text);
	size_t start = 0, len = strlen(w);
	for (size_t i = 0; i <= len; i++)
		if (i == len || w[i] == '\r') {
			CHECK(i - start <= 75 + (start ? 1 : 0));
			CHECK(i == len || (w[i + 1] == '\n' && w[i + 2] == ' '));
			start = i + 2;
		}
	/* as a reader sees it: unfolded (CRLF dropped), adjacent words joined */
	char *o = w;
	for (const char *p = w; *p; p++)
		if (*p != '\r' && *p != '\n')
			*o++ = *p;
	*o = '\0';
	char *d = mime_decode_words(w);
	CHECK_STR(d, text);
	free(d);
	free(w);
}

static void test_encode(void)
{
	char *t = mime_header_text("Out of office");
	CHECK_STR(t, "Out of office");
	free(t);
	t = mime_header_text("Abwesenheit: \xc3\xbc");
	CHECK_STR(t, "=?UTF-8?B?QWJ3ZXNlbmhlaXQ6IMO8?=");
	free(t);
	t = mime_header_text("looks like =?x?q?y?= a word");	/* would be decoded: encoded */
	CHECK(!strncmp(t, "=?UTF-8?B?", 10));
	free(t);
	t = mime_header_text("tab\there");
	CHECK(!strncmp(t, "=?UTF-8?B?", 10));
	free(t);
	t = mime_encode_words("");
	CHECK_STR(t, "");
	free(t);
	check_round_trip("\xc3\xbc");
	char big[4000] = "";
	for (int i = 0; i < 300; i++)	/* 2-, 3- and 4-octet characters across word ends */
		strcat(big, i % 3 == 0 ? "\xc3\xa9" : i % 3 == 1 ? "\xe2\x82\xac" : "\xf0\x9f\x98\x80x");
	check_round_trip(big);
	char bad[200];	/* no UTF-8 at all: still bounded words */
	memset(bad, 0x80, sizeof bad - 1);
	bad[sizeof bad - 1] = '\0';
	char *w = mime_encode_words(bad);
	CHECK(strlen(w) < 400);
	free(w);
}

int main(void)
{
	test_encode();
	test_words();
	test_linear();
	return check_summary("common_mime_words");
}
