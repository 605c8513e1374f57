/* fuzz_smtpd.c — libFuzzer target for smtpd's wire parsers (smtpd/parse.c) and
 * the DATA/BDAT body machine (smtpd/data.c).
 *
 * Each input is used twice:
 *  - as a command line: every parser the session would run on it;
 *  - as a body stream, fed in chunks whose sizes come from the first byte, for
 *    DATA and for BDAT. The result (bytes consumed, bytes emitted, errors) must
 *    not depend on how the stream was cut into chunks, and what is emitted
 *    without error never contains a bare CR or LF or a line over the limit;
 *  - through the header filter (smtpd/hdrfilter.c) dropping "X-Drop" fields,
 *    whole and cut into pieces: the output is the input without exactly those
 *    fields, however long (a field past the filter's buffer is judged by its
 *    beginning), and does not depend on the cuts.
 * Run: make fuzz (long) or make fuzz-smoke (part of make check). */
#include "smtpd/data.h"
#include "smtpd/hdrfilter.h"
#include "smtpd/parse.h"

#include <strings.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct sink {
	unsigned char *buf;
	size_t n, cap;
};

static void emit(void *arg, const char *p, size_t n)
{
	struct sink *s = arg;
	if (s->n + n > s->cap) {
		s->cap = (s->n + n) * 2 + 64;
		s->buf = realloc(s->buf, s->cap);
		if (!s->buf)
			abort();
	}
	memcpy(s->buf + s->n, p, n);
	s->n += n;
}

static void commands(const char *line)
{
	struct smtp_cmd c;
	struct mail_args m;
	struct rcpt_args r;
	char helo[SMTP_HELO_MAX + 1];
	uint64_t size;
	bool last;

	parse_command(line, &c);
	if (parse_mail(c.arg, &m) == P_OK) {
		size_t n = strlen(m.addr);
		if (n > SMTP_PATH_MAX || (n && strcasecmp(m.addr, "postmaster") &&
					  !valid_mailbox(m.addr, n, true)))
			abort();
	}
	if (parse_rcpt(c.arg, false, &r) == P_OK) {
		for (const char *p = r.addr; *p; p++)
			if ((unsigned char)*p >= 0x80)
				abort();	/* 8-bit only with SMTPUTF8 */
	}
	(void)parse_rcpt(c.arg, true, &r);
	if (parse_helo(c.arg, helo, sizeof helo) && strlen(helo) > SMTP_HELO_MAX)
		abort();
	(void)parse_bdat(c.arg, &size, &last);
	char url[BURL_URL_MAX + 1];
	if (parse_burl(c.arg, url, sizeof url, &last) &&
	    (strlen(url) > BURL_URL_MAX || strncasecmp(url, "imap://", 7) || strchr(url, ' ')))
		abort();

	size_t n = strlen(c.arg);
	unsigned char *buf = malloc(n / 4 * 3 + 2);
	long k = b64_decode(c.arg, buf, n / 4 * 3 + 1);
	const char *user, *pass;
	if (k >= 0) {
		char *back = malloc((size_t)k / 3 * 4 + 8);
		b64_encode(buf, (size_t)k, back);
		if (strcmp(back, c.arg))
			abort();	/* canonical base64 round-trips */
		free(back);
		buf[k] = 0;
		(void)parse_sasl_plain(buf, (size_t)k, &user, &pass);
	}
	free(buf);
}

struct run {
	size_t used;
	unsigned errors;
	bool done;
	struct sink out;
};

static void body(const uint8_t *d, size_t n, bool dotted, size_t step, struct run *res)
{
	struct data_sm sm;
	memset(res, 0, sizeof *res);
	data_init(&sm, dotted, 78, 2000);
	while (res->used < n && !sm.done) {
		size_t k = n - res->used < step ? n - res->used : step;
		size_t got = data_feed(&sm, (const char *)d + res->used, k, emit, &res->out);
		if (got > k || (got < k && !sm.done))
			abort();
		res->used += got;
	}
	if (!dotted)
		data_finish(&sm, emit, &res->out);
	res->errors = sm.errors;
	res->done = sm.done;
	if (!sm.errors) {
		/* Clean output: CRLF line ends only, lines within the limit, size kept. */
		size_t line = 0;
		for (size_t i = 0; i < res->out.n; i++) {
			unsigned char c = res->out.buf[i];
			if (c == '\n' && (i == 0 || res->out.buf[i - 1] != '\r'))
				abort();
			if (c == '\r' && (i + 1 >= res->out.n || res->out.buf[i + 1] != '\n'))
				abort();
			line = c == '\n' ? 0 : line + 1;
			if (line > 79)
				abort();
		}
		if (res->out.n > 2000)
			abort();
	}
	if (dotted && sm.done && (res->used < 3 || memcmp(d + res->used - 3, ".\r\n", 3) ||
				  (res->used > 3 && memcmp(d + res->used - 5, "\r\n", 2))))
		abort();	/* the end is CRLF.CRLF (or ".\r\n" right at the start) */
}

static void same(const struct run *a, const struct run *b)
{
	if (a->used != b->used || a->errors != b->errors || a->done != b->done)
		abort();
	if (!a->errors && (a->out.n != b->out.n || (a->out.n && memcmp(a->out.buf, b->out.buf, a->out.n))))
		abort();
}

static bool drop_x(void *arg, const char *field, size_t n, bool complete)
{
	return n >= 7 && !strncasecmp(field, "X-Drop:", 7);
}

/* The header (up to the first line that is empty) without X-Drop fields, then
 * the rest as it is: what the filter must produce. */
static void filter_reference(const uint8_t *d, size_t n, struct sink *out)
{
	size_t i = 0;
	bool drop = false;
	while (i < n) {
		size_t e = i;
		while (e < n && d[e] != '\n')
			e++;
		e = e < n ? e + 1 : n;		/* the line, with its LF */
		if (d[i] == '\r' || d[i] == '\n') {	/* the empty line: body follows */
			emit(out, (const char *)d + i, n - i);
			return;
		}
		if (d[i] != ' ' && d[i] != '\t')
			drop = e - i >= 7 && !strncasecmp((const char *)d + i, "X-Drop:", 7);
		if (!drop)
			emit(out, (const char *)d + i, e - i);
		i = e;
	}
}

static void filter_run(const uint8_t *d, size_t n, size_t step, struct sink *out)
{
	struct hdrfilter f;
	hdrfilter_init(&f, emit, drop_x, out);
	for (size_t off = 0; off < n; off += step)
		hdrfilter_feed(&f, (const char *)d + off, n - off < step ? n - off : step);
	hdrfilter_end(&f);
	hdrfilter_free(&f);
}

static void filter(const uint8_t *d, size_t n, size_t step)
{
	struct sink want = { 0 }, whole = { 0 }, cut = { 0 };
	filter_reference(d, n, &want);
	filter_run(d, n, n ? n : 1, &whole);
	filter_run(d, n, step, &cut);
	if (whole.n != want.n || cut.n != want.n ||
	    (want.n && (memcmp(whole.buf, want.buf, want.n) || memcmp(cut.buf, want.buf, want.n))))
		abort();
	free(want.buf);
	free(whole.buf);
	free(cut.buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	filter(data + 1, size - 1, (size_t)(data[0] % 64) * 97 + 1);
	if (size > 65536)
		return 0;	/* the line and body machines: their limits are far below */
	char *line = malloc(size + 1);
	memcpy(line, data, size);
	line[size] = 0;		/* lines with NUL never reach the parsers */
	commands(line);
	free(line);

	size_t step = (size_t)(data[0] % 16) + 1;
	for (int dotted = 0; dotted < 2; dotted++) {
		struct run whole, cut;
		body(data + 1, size - 1, dotted, size, &whole);
		body(data + 1, size - 1, dotted, step, &cut);
		same(&whole, &cut);
		free(whole.out.buf);
		free(cut.out.buf);
	}
	return 0;
}
