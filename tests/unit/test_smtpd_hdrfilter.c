/* Unit tests: the streaming header filter drops exactly the forged fields,
 * whatever the piece boundaries, and leaves everything else byte-exact. */
#include "smtpd/hdrfilter.h"
#include "common/mailauth.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <stdlib.h>
#include <string.h>

struct sink {
	char buf[8192];
	size_t len;
};

static void out(void *arg, const char *p, size_t n)
{
	struct sink *s = arg;
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	s->buf[s->len] = '\0';
}

static bool drop(void *arg, const char *field, size_t n)
{
	return mailauth_is_forged(field, n, "mx.example.test");
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
	return check_summary("hdrfilter");
}
