/* Unit tests: the streaming header filter drops exactly the forged fields,
 * whatever the piece boundaries, and leaves everything else byte-exact. */
#include "smtpd/hdrfilter.h"
#include "common/mailauth.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sink {
	char buf[256 * 1024];
	size_t len;
};

static void out(void *arg, const char *p, size_t n)
{
	struct sink *s = arg;
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	s->buf[s->len] = '\0';
}

static bool drop(void *arg, const char *field, size_t n, bool complete)
{
	return mailauth_is_forged(field, n, "mx.example.test", complete);
}

static const char *run(const char *in, size_t piece, unsigned *dropped)
{
	static struct sink s;
	struct hdrfilter f;
	memset(&s, 0, sizeof s);
	hdrfilter_init(&f, out, drop, &s);
	size_t n = strlen(in);
	for (size_t off = 0; off < n; off += piece)
		hdrfilter_feed(&f, in + off, n - off < piece ? n - off : piece);
	hdrfilter_end(&f);
	*dropped = f.dropped;
	hdrfilter_free(&f);
	return s.buf;
}

/* "Authentication-Results:" + pad bytes of folded comment + id + "; spf=pass". */
static char *overlong(size_t pad, const char *id)
{
	char *f = xmalloc(pad + 256);
	size_t n = (size_t)sprintf(f, "Authentication-Results:\r\n (");
	for (size_t i = 0; i < pad; i++)
		f[n++] = (i % 70 == 69) ? '\n' : (i % 70 == 68) ? '\r' : (i % 70 == 0) ? ' ' : 'x';
	if (f[n - 1] == '\r')
		f[n++] = '\n';
	if (f[n - 1] == '\n')
		f[n++] = ' ';	/* still folded */
	n += (size_t)sprintf(f + n, ") %s; spf=pass\r\n", id);
	f[n] = '\0';
	return f;
}

/* Fields longer than the filter holds: a forged one is still dropped,
 * wherever its beginning ends (in the comment, in our name); another
 * host's whose name comes first passes whole (one whose name is past the
 * first 64 kB cannot be told from ours and is dropped too). Before, any field over 64 kB passed unexamined. */
static void test_overlong(void)
{
	size_t pads[] = { 70000, HDRFILTER_FIELD_MAX - 30, HDRFILTER_FIELD_MAX - 32,
			  HDRFILTER_FIELD_MAX - 40, 200000 };
	for (size_t k = 0; k < ARRAY_LEN(pads); k++) {
		char *ours = overlong(pads[k], "mx.example.test");
		char *in = xasprintf("Subject: a\r\n%sTo: b\r\n\r\nbody\r\n", ours);
		unsigned d;
		const char *got = run(in, 4096, &d);
		CHECK_STR(got, "Subject: a\r\nTo: b\r\n\r\nbody\r\n");
		if (strcmp(got, "Subject: a\r\nTo: b\r\n\r\nbody\r\n"))
			printf("  pad %zu: %zu bytes out, %u dropped: %.60s\n", pads[k], strlen(got), d, got);
		CHECK(d == 1);
		free(in);
		free(ours);
	}
	/* another host's, its name in the first bytes: passes whole */
	char *pad = overlong(70000, "x");
	char *theirs = xasprintf("Authentication-Results: other.test; dkim=pass\r\n %s", pad + 25);
	free(pad);
	char *in = xasprintf("Subject: a\r\n%s\r\nbody\r\n", theirs);
	unsigned d;
	CHECK_STR(run(in, 1000, &d), in);
	CHECK(d == 0);
	free(in);
	free(theirs);
}

int main(void)
{
	const char *in =
		"Received: from a\r\n\tby b; date\r\n"
		"Authentication-Results: mx.example.test;\r\n\tspf=pass smtp.mailfrom=x@y\r\n"
		"Subject: hi\r\n"
		"Authentication-Results: other.test; dkim=pass\r\n"
		"authentication-results: MX.EXAMPLE.TEST; dmarc=pass\r\n"
		"\r\n"
		"Authentication-Results: mx.example.test; in the body stays\r\n";
	const char *want =
		"Received: from a\r\n\tby b; date\r\n"
		"Subject: hi\r\n"
		"Authentication-Results: other.test; dkim=pass\r\n"
		"\r\n"
		"Authentication-Results: mx.example.test; in the body stays\r\n";
	size_t pieces[] = { 1, 2, 3, 7, 64, 4096 };
	for (size_t i = 0; i < ARRAY_LEN(pieces); i++) {
		unsigned d;
		CHECK_STR(run(in, pieces[i], &d), want);
		CHECK(d == 2);
	}
	/* Header only, no body, no final CRLF: the held field is still judged. */
	unsigned d;
	CHECK_STR(run("Subject: x\r\nAuthentication-Results: mx.example.test; x", 5, &d),
		  "Subject: x\r\n");
	/* A message starting with the empty line has no header to filter. */
	CHECK_STR(run("\r\nAuthentication-Results: mx.example.test; x\r\n", 3, &d),
		  "\r\nAuthentication-Results: mx.example.test; x\r\n");
	test_overlong();
	return check_summary("hdrfilter");
}
