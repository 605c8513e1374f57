/* fuzz_pop3d.c — libFuzzer target for pop3d's wire parsers: the command line
 * parser (pop3d/pop3_cmd.c), SASL PLAIN/LOGIN decoding (pop3d/sasl.c), the
 * Maildir name helpers behind LIST/UIDL (pop3d/maildrop.c) and the RETR/TOP
 * writer (pop3d/msgout.c).
 *
 * The writer is checked against invariants: the output does not depend on how
 * the message is cut into chunks; every LF on the wire follows a CR; the
 * multi-line response ends in CRLF "." CRLF; and without stuffing and the
 * terminator the RETR output has exactly the size LIST reports.
 * Run: make fuzz (long) or make fuzz-smoke (part of make check). */
#include "pop3d/maildrop.h"
#include "pop3d/msgout.h"
#include "pop3d/pop3_cmd.h"
#include "common/sasl.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void parse(const uint8_t *data, size_t n)
{
	char *line = malloc(n + 1);
	if (!line)
		abort();
	memcpy(line, data, n);
	line[n] = '\0';
	struct pop3_cmd c;
	if (pop3_parse(line, &c) == PARSE_OK) {
		if (c.argc < c.def->min_args || c.argc > c.def->max_args)
			abort();
		for (int i = 0; i < c.argc; i++)
			if (!c.argv[i] || (!c.def->rest && (!*c.argv[i] || strchr(c.argv[i], ' '))))
				abort();
		unsigned long k;
		if (c.argc && pop3_msgnum(c.argv[0], 100) > 100)
			abort();
		if (c.argc > 1)
			(void)pop3_count(c.argv[1], &k);
	}
	memcpy(line, data, n);
	char *u, *p;
	if (sasl_plain(line, &u, &p)) {
		if (!*u || !*p)
			abort();
		free(u);
		free(p);
	}
	if (sasl_login_field(line, &u)) {
		if (!*u)
			abort();
		free(u);
	}
	size_t base = maildir_baselen(line);
	uint64_t v;
	(void)maildir_field(line, base, 'W', &v);
	char uidl[UIDL_MAX + 1];
	maildir_uidl(line, base, uidl);
	size_t ul = strlen(uidl);
	if (ul < 1 || ul > UIDL_MAX)
		abort();
	for (size_t i = 0; i < ul; i++)
		if (uidl[i] < 0x21 || uidl[i] > 0x7e)
			abort();
	free(line);
}

/* Convert the message in chunks of `step` bytes (0: all at once). */
static char *convert(const uint8_t *m, size_t n, long top, size_t step, size_t *outlen)
{
	char *out = malloc(2 * n + 8);
	if (!out)
		abort();
	struct msgout w;
	size_t o = 0;
	msgout_init(&w, top);
	if (!step)
		step = n ? n : 1;
	for (size_t i = 0; i < n; i += step)
		o += msgout_feed(&w, (const char *)m + i, n - i < step ? n - i : step, out + o);
	o += msgout_finish(&w, out + o);
	*outlen = o;
	return out;
}

/* The specification, one byte at a time: what msgout must produce. */
static size_t reference(const uint8_t *m, size_t n, long top, char *out)
{
	bool bol = true, prev_cr = false, empty = true, body = false, done = false;
	long left = top;
	size_t o = 0;
	for (size_t i = 0; i < n && !done; i++) {
		char c = (char)m[i];
		if (c == '\n') {
			if (!prev_cr)
				out[o++] = '\r';
			out[o++] = '\n';
			prev_cr = false;
			if (!body) {
				if (empty) {
					body = true;
					done = left == 0;
				}
			} else if (left > 0 && --left == 0) {
				done = true;
			}
			bol = empty = true;
			continue;
		}
		if (bol && c == '.')
			out[o++] = '.';
		out[o++] = c;
		if (c != '\r' || prev_cr)
			empty = false;
		prev_cr = c == '\r';
		bol = false;
	}
	if (!bol && !done) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}

static void writer(const uint8_t *data, size_t n)
{
	if (n < 2)
		return;
	size_t step = data[0] % 17 + 1;
	long top = data[1] % 5 == 0 ? -1 : data[1] % 7;
	data += 2;
	n -= 2;
	size_t a, b;
	char *x = convert(data, n, top, 0, &a);
	char *y = convert(data, n, top, step, &b);
	if (a != b || memcmp(x, y, a))
		abort();
	char *r = malloc(2 * n + 8);
	if (!r || reference(data, n, top, r) != a || memcmp(r, x, a))
		abort();
	free(r);
	if (a < 3 || memcmp(x + a - 3, ".\r\n", 3) || (a > 3 && memcmp(x + a - 5, "\r\n", 2)))
		abort();
	size_t stuffed = 0;
	for (size_t i = 0; i < a; i++) {
		if (x[i] == '\n' && (i == 0 || x[i - 1] != '\r'))
			abort();
		if (x[i] == '.' && (i == 0 || x[i - 1] == '\n') && i + 3 != a)
			stuffed++;
	}
	if (top < 0) {
		struct msgsize s = { 0 };
		for (size_t i = 0; i < n; i += step)
			msgsize_feed(&s, (const char *)data + i, n - i < step ? n - i : step);
		/* Each stuffed line carries one extra dot; the terminator is ".\r\n". */
		if (msgsize_end(&s) != a - 3 - stuffed)
			abort();
	}
	free(x);
	free(y);
}

/* common/sasl.c both ways: the input encoded decodes to itself, and split at
 * its first NUL into a user name and a password it makes a PLAIN response
 * that decodes to exactly those two. */
static void sasl_roundtrip(const uint8_t *data, size_t n)
{
	static char b64[SASL_LINE_MAX + 8];
	static unsigned char back[SASL_LINE_MAX], plain[SASL_LINE_MAX];
	if (n > SASL_LINE_MAX / 4 * 3 - 2)
		return;
	sasl_b64encode(data, n, b64);
	long k = sasl_b64decode(b64, back, sizeof back);
	if (k != (long)n || memcmp(back, data, n))
		abort();
	const uint8_t *z = memchr(data, 0, n);
	size_t ulen = z ? (size_t)(z - data) : n / 2;
	const uint8_t *pw = z ? z + 1 : data + ulen;
	size_t plen = n - (size_t)(pw - data);
	if (!ulen || !plen || memchr(data, 0, ulen) || memchr(pw, 0, plen))
		return;
	plain[0] = 0;
	memcpy(plain + 1, data, ulen);
	plain[1 + ulen] = 0;
	memcpy(plain + 2 + ulen, pw, plen);
	sasl_b64encode(plain, ulen + plen + 2, b64);
	char *u, *p;
	if (!sasl_plain(b64, &u, &p))
		abort();
	if (strlen(u) != ulen || memcmp(u, data, ulen) || strlen(p) != plen || memcmp(p, pw, plen))
		abort();
	free(u);
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	parse(data, n);
	sasl_roundtrip(data, n);
	writer(data, n);
	return 0;
}
