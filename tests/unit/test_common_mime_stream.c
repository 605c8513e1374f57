/* Unit tests: the streaming MIME parser builds the tree mime_parse builds
 * (differential, on hand-written edge cases and on random messages), CRLF
 * ranges of LF files, and chunked transfer decoding. */
#include "common/mailindex.h"
#include "common/mime.h"
#include "common/mime_binconv.h"
#include "common/mime_stream.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <event2/buffer.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *tmpfile_path;

static int write_file(const char *data, size_t n)
{
	int fd = open(tmpfile_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	write_all(fd, data, n);
	return fd;
}

static char *render(struct mime_msg *m, int what)
{
	struct evbuffer *b = evbuffer_new();
	if (what == 0)
		mime_envelope(m, m->root, b);
	else
		mime_bodystructure(m, m->root, what == 1, b);
	evbuffer_add(b, "", 1);
	char *s = xstrdup((const char *)evbuffer_pullup(b, -1));
	evbuffer_free(b);
	return s;
}

static int mismatches;

static void same_part(const struct mime_part *a, const struct mime_part *b, const char *label)
{
	if (!a || !b) {
		if (a != b) {
			fprintf(stderr, "%s: part present on one side only\n", label);
			mismatches++;
		}
		return;
	}
	if (a->hdr_off != b->hdr_off || a->hdr_len != b->hdr_len || a->body_off != b->body_off ||
	    a->body_len != b->body_len || a->body_lines != b->body_lines ||
	    a->nchildren != b->nchildren || a->multipart != b->multipart ||
	    strcmp(a->type, b->type) || strcmp(a->subtype, b->subtype)) {
		fprintf(stderr, "%s: mem %s/%s h%zu+%zu b%zu+%zu l%zu c%zu | stream %s/%s h%zu+%zu b%zu+%zu l%zu c%zu\n",
			label, a->type, a->subtype, a->hdr_off, a->hdr_len, a->body_off, a->body_len,
			a->body_lines, a->nchildren, b->type, b->subtype, b->hdr_off, b->hdr_len,
			b->body_off, b->body_len, b->body_lines, b->nchildren);
		mismatches++;
		return;
	}
	same_part(a->msg, b->msg, label);
	const struct mime_part *x = a->children, *y = b->children;
	for (; x || y; x = x ? x->next : NULL, y = y ? y->next : NULL)
		same_part(x, y, label);
}

/* Parse data (LF or mixed line ends) both ways and compare everything. */
static void compare(const char *data, size_t n, const char *label)
{
	size_t cl;
	char *crlf = mime_to_crlf(data, n, &cl);
	struct mime_msg *a = mime_parse(crlf, cl);
	int fd = write_file(data, n);
	uint64_t slen = 0;
	struct mime_msg *b = mime_parse_fd(fd, UINT64_MAX, &slen);
	close(fd);
	CHECK(b != NULL);
	if (!b) {
		mime_free(a);
		free(crlf);
		return;
	}
	int before = mismatches;
	if (slen != cl || b->len != cl || a->nparts != b->nparts) {
		fprintf(stderr, "%s: length %zu/%llu parts %zu/%zu\n", label, cl, (unsigned long long)slen,
			a->nparts, b->nparts);
		if (getenv("MIME_STREAM_DUMP")) {
			FILE *f = fopen(getenv("MIME_STREAM_DUMP"), "w");
			fwrite(data, 1, n, f);
			fclose(f);
		}
		mismatches++;
	}
	same_part(a->root, b->root, label);
	for (int w = 0; w < 3; w++) {
		char *x = render(a, w), *y = render(b, w);
		if (strcmp(x, y)) {
			fprintf(stderr, "%s: render %d differs\n  mem    %s\n  stream %s\n", label, w, x, y);
			mismatches++;
		}
		free(x);
		free(y);
	}
	static const char *const specs[] = { "", "TEXT", "HEADER", "1", "1.MIME", "2", "1.1", "1.2.TEXT",
					     "2.HEADER", "HEADER.FIELDS (SUBJECT FROM)", "1.HEADER" };
	for (size_t i = 0; i < ARRAY_LEN(specs); i++) {
		struct mime_section sa, sb;
		int ra = mime_section(a, specs[i], &sa), rb = mime_section(b, specs[i], &sb);
		if (ra != rb || sa.off != sb.off || sa.len != sb.len || sa.kind != sb.kind) {
			fprintf(stderr, "%s: section %s differs\n", label, specs[i]);
			mismatches++;
		} else if (ra == 0 && sa.kind != MIME_SEC_RANGE && sa.len &&
			   memcmp(a->buf + sa.off, b->buf + sb.off, sa.len < MIME_MAX_HEADER ? sa.len : 0)) {
			fprintf(stderr, "%s: header bytes of %s differ\n", label, specs[i]);
			mismatches++;
		}
		mime_section_free(&sa);
		mime_section_free(&sb);
	}
	CHECK(mismatches == before);
	mime_free(a);
	mime_stream_free(b);
	free(crlf);
}

static const char *const cases[] = {
	"",
	"no header at all",
	"Subject: only a header\n",
	"Subject: x\n\nbody\n",
	"\nbody after an empty first line\n",
	"Subject: x\r\nFrom: a@b\r\n\r\nCRLF body\r\nmixed\nends\r\n",
	"Subject: no final newline\n\nlast line",
	"Content-Type: multipart/mixed; boundary=b\n\npreamble\n--b\nContent-Type: text/plain\n\none\n--b\n\ntwo\n--b--\nepilogue\n",
	"Content-Type: multipart/mixed; boundary=b\n\n--b\n--b\n--b--\n",
	"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n--b--\n",
	"Content-Type: multipart/mixed; boundary=b\n\n--b\n\n--b--",
	"Content-Type: multipart/mixed; boundary=b\n\n--b\nX: y\n\nunterminated\n",
	"Content-Type: multipart/mixed; boundary=b\n\n--b\nX: y\n\nunterminated\n--b",
	"Content-Type: multipart/mixed; boundary=b\n\n--b \t\nX: padded\n\nz\n--b-- \n",
	"Content-Type: multipart/mixed; boundary=b1\n\n--b10\nnot a part\n--b1\n\nreal\n--b1--\n",
	"Content-Type: multipart/mixed; boundary=\"o\"\n\n--o\nContent-Type: multipart/alternative; boundary=i\n\n--i\n\nplain\n--i\nContent-Type: text/html\n\n<p>x</p>\n--i--\n--o\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nAAECAwQ=\n--o--\n",
	"Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/mixed; boundary=i\n\n--i\n\ninner cut by outer\n--o\n\nafter\n--o--\n",
	"Content-Type: multipart/mixed; boundary=o\n\n--o\nContent-Type: multipart/mixed; boundary=i\n\n--i\n--o--\n",
	"Content-Type: multipart/digest; boundary=d\n\n--d\n\nSubject: in digest\n\nbody\n--d\nContent-Type: text/plain\n\nplain\n--d--\n",
	"Content-Type: message/rfc822\n\nSubject: inner\nFrom: x@y\n\ninner body\n",
	"Content-Type: message/rfc822\n\n",
	"Content-Type: message/rfc822\n",
	"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\nSubject: inner\n\nbody\n--b\nContent-Type: message/rfc822\n\n--b--\n",
	"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n--b--\n",
	"Content-Type: multipart/mixed\n\nno boundary\n",
	"Content-Type: multipart/mixed; boundary=b\n",
	"Content-Type: text/plain\n\nbare\rcr\n\n\n",
	"Subject: a\n continued\n folded\nX:\n\nbody\n",
	"Content-Type: multipart/mixed; boundary=b\n\n--b\rjunk\n\nx\n--b--\n",
	"Content-Type: multipart/mixed; boundary=A\n\n--A\n\none\n--A--x\nstill one\n--A\n\ntwo\n",
};

/* A random message: nested multiparts, messages, odd line ends. */
static unsigned rnd_state = 12345;
static unsigned rnd(unsigned n)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 8) % n;
}

static void gen_part(struct evbuffer *b, int depth, int *parts)
{
	const char *eol = rnd(4) ? "\n" : "\r\n";
	unsigned kind = depth > 5 || *parts > 60 ? 0 : rnd(5);
	(*parts)++;
	if (rnd(8) == 0)
		evbuffer_add_printf(b, "Subject: part %d%s", *parts, eol);
	if (kind == 1 || kind == 2) {
		char bd[16];
		snprintf(bd, sizeof bd, "b%d_%u", depth, rnd(3));
		evbuffer_add_printf(b, "Content-Type: multipart/%s; boundary=\"%s\"%s%s",
				    kind == 1 ? "mixed" : "digest", bd, eol, eol);
		if (rnd(2))
			evbuffer_add_printf(b, "preamble%s", eol);
		unsigned n = rnd(4);
		for (unsigned i = 0; i < n; i++) {
			evbuffer_add_printf(b, "--%s%s%s", bd, rnd(6) ? "" : "  ", eol);
			gen_part(b, depth + 1, parts);
		}
		if (rnd(5))
			evbuffer_add_printf(b, "--%s--%s", bd, eol);
		if (rnd(3) == 0)
			evbuffer_add_printf(b, "epilogue%s", eol);
		return;
	}
	if (kind == 3) {
		evbuffer_add_printf(b, "Content-Type: message/rfc822%s%s", eol, eol);
		gen_part(b, depth + 1, parts);
		return;
	}
	if (rnd(3))
		evbuffer_add_printf(b, "Content-Type: text/plain%s", eol);
	if (rnd(10))
		evbuffer_add(b, eol, strlen(eol));
	unsigned lines = rnd(5);
	for (unsigned i = 0; i < lines; i++)
		evbuffer_add_printf(b, "line %u%s", rnd(100), rnd(5) ? eol : "");
	if (rnd(6) == 0)
		evbuffer_add_printf(b, "%s", eol);
}

static void test_random(void)
{
	for (int i = 0; i < 400; i++) {
		struct evbuffer *b = evbuffer_new();
		int parts = 0;
		gen_part(b, 0, &parts);
		size_t n = evbuffer_get_length(b);
		if (n && rnd(4) == 0)
			n = rnd((unsigned)n);	/* cut anywhere */
		char label[32];
		snprintf(label, sizeof label, "random %d", i);
		compare((const char *)evbuffer_pullup(b, -1), n, label);
		evbuffer_free(b);
	}
}

static void test_long_lines(void)
{
	/* lines longer than the reader's buffer, in headers and bodies */
	size_t big = MSTREAM_LINE * 2 + 77;
	struct evbuffer *b = evbuffer_new();
	evbuffer_add_printf(b, "Content-Type: multipart/mixed; boundary=q\nX-Long: ");
	for (size_t i = 0; i < big; i++)
		evbuffer_add(b, "h", 1);
	evbuffer_add_printf(b, "\n\n--q\n\n");
	for (size_t i = 0; i < big; i++)
		evbuffer_add(b, "b", 1);
	evbuffer_add_printf(b, "\r\n--q--\n");
	compare((const char *)evbuffer_pullup(b, -1), evbuffer_get_length(b), "long lines");
	evbuffer_free(b);
}

/* A header longer than MIME_MAX_HEADER: the fields after it (ENVELOPE,
 * Content-*, the index's SEARCH record) are still seen, both ways alike. */
static void add_filler(struct evbuffer *b, const char *tag)
{
	for (int i = 0; i < 5000; i++)	/* ~340 KB of short fields */
		evbuffer_add_printf(b, "X-Filler-%s-%04d: %060d\n", tag, i, i);
}

static void check_late_fields(const char *data, size_t n, const char *label, const char *want_env,
			      const char *want_body)
{
	compare(data, n, label);
	int fd = write_file(data, n);
	struct mime_msg *m = mime_parse_fd(fd, UINT64_MAX, NULL);
	close(fd);
	char *env = render(m, 0), *body = render(m, 1);
	CHECK(strstr(env, want_env) != NULL);
	CHECK(!want_body || strstr(body, want_body) != NULL);
	size_t rl = 0;
	char *rec = mi_fields_encode(m, &rl);
	CHECK(rec && memmem(rec, rl, want_env, strlen(want_env)));
	free(rec);
	free(env);
	free(body);
	mime_stream_free(m);
	size_t cl;
	char *crlf = mime_to_crlf(data, n, &cl);
	struct mime_msg *mm = mime_parse(crlf, cl);
	env = render(mm, 0);
	CHECK(strstr(env, want_env) != NULL);
	free(env);
	mime_free(mm);
	free(crlf);
}

static void test_long_header(void)
{
	struct evbuffer *b = evbuffer_new();
	add_filler(b, "top");
	evbuffer_add_printf(b, "From: Late Sender <late@example.test>\nSubject: found after the filler\n"
			       "Content-Type: multipart/mixed; boundary=zz\n\n--zz\n");
	add_filler(b, "part");
	evbuffer_add_printf(b, "Content-Type: text/html\n\n<p>x</p>\n--zz--\n");
	check_late_fields((const char *)evbuffer_pullup(b, -1), evbuffer_get_length(b), "many fields",
			  "found after the filler", "\"html\"");
	evbuffer_free(b);
	/* one folded field across the limit, then the Subject */
	b = evbuffer_new();
	evbuffer_add_printf(b, "X-Long: start\n");
	for (int i = 0; i < 6000; i++)
		evbuffer_add_printf(b, " %060d\n", i);
	evbuffer_add_printf(b, "Subject: after a folded field\nX-After: dropped\n\nbody\n");
	check_late_fields((const char *)evbuffer_pullup(b, -1), evbuffer_get_length(b), "folded field",
			  "after a folded field", NULL);
	evbuffer_free(b);
}

static int to_evbuffer(void *arg, const char *p, size_t n)
{
	return evbuffer_add(arg, p, n);
}

/* BINARY and HEADER.FIELDS of a header longer than the image keeps whole: the
 * rest is read from the file (BINARY refused such a message before, and
 * HEADER.FIELDS missed every field past MIME_MAX_HEADER). */
static void test_long_header_sections(void)
{
	struct evbuffer *b = evbuffer_new();
	add_filler(b, "top");
	evbuffer_add_printf(b, "X-Late: found late\nContent-Transfer-Encoding: base64\n\naGVsbG8=\n");
	size_t n = evbuffer_get_length(b);
	int fd = write_file((const char *)evbuffer_pullup(b, -1), n);
	struct mime_msg *m = mime_parse_fd(fd, UINT64_MAX, NULL);
	struct evbuffer *out = evbuffer_new();
	CHECK(mime_binary_convert(m, fd, m->root, to_evbuffer, out) == 0);
	size_t ol = evbuffer_get_length(out);
	const char *o = (const char *)evbuffer_pullup(out, -1);
	CHECK(ol > m->root->hdr_len && memmem(o, ol, "X-Late: found late\r\n", 20) &&
	      !memcmp(o + ol - 5, "hello", 5));
	evbuffer_free(out);
	struct mime_section sec;
	CHECK(mime_section(m, "HEADER.FIELDS (X-Late)", &sec) == 0);
	out = evbuffer_new();
	mime_filter_section(m, fd, &sec, out);
	CHECK(evbuffer_get_length(out) == 22 &&
	      !memcmp(evbuffer_pullup(out, -1), "X-Late: found late\r\n\r\n", 22));
	evbuffer_free(out);
	mime_section_free(&sec);
	close(fd);
	mime_stream_free(m);
	evbuffer_free(b);
}

static void test_ranges_and_decoding(void)
{
	const char *lf = "ab\ncd\r\n\nef";
	size_t cl;
	char *crlf = mime_to_crlf(lf, strlen(lf), &cl);
	int fd = write_file(lf, strlen(lf));
	for (size_t start = 0; start <= cl; start++) {
		for (size_t len = 0; start + len <= cl + 2; len++) {
			struct crlf_reader r;
			crlf_reader_init(&r, fd, start, len);
			char out[64];
			size_t o = 0;
			ssize_t k;
			while ((k = crlf_read(&r, out + o, 2)) > 0)
				o += (size_t)k;
			size_t want = start + len <= cl ? len : cl - start;
			CHECK(o == want && !memcmp(out, crlf + start, want));
		}
	}
	close(fd);
	free(crlf);

	/* decoding (RFC 2045 6.7 for quoted-printable) gives the same octets at
	 * every split of the input, and what mime_part_binary gives */
	static const char sp100[] = "                                                  "
				    "                                                  ";
	char longws[128], longws_out[128];
	snprintf(longws, sizeof longws, "x%sy\r\n", sp100);
	snprintf(longws_out, sizeof longws_out, "x%sy\r\n", sp100);
	static const char imaptest_in[] = "hello  \r\nbar=\r\n\r\nfoo\t=\r\nbar\r\nfoo\t \t= \r\n=62\r\n"
					  "foo = \t\r\nbar\r\nfoo =\r\n=62\r\nfoo  \r\nbar=\r\n\r\nfoo_bar\r\n";
	static const char imaptest_out[] = "hello\r\nbar\r\nfoo\tbar\r\nfoo\t \tb\r\nfoo bar\r\nfoo b\r\n"
					   "foo\r\nbar\r\nfoo_bar\r\n";
	const struct { const char *enc, *in, *want; } dec[] = {
		{ "base64", "AAEC\r\nAwQ=\r\n", "\0\1\2\3\4" },
		{ "quoted-printable", "a=3Db=\r\nc=\nd=4\r\n=\r=ZZ==41=", "a=bcd=4\r\n=ZZ=A=" },
		{ "quoted-printable", "x=4", "x=4" },
		{ "quoted-printable", imaptest_in, imaptest_out },
		{ "quoted-printable", "x  \r\ny\t\r\nz \t", "x\r\ny\r\nz" },
		{ "quoted-printable", "a= \t\r\nb= \nc=  ", "abc" },
		{ "quoted-printable", "a b= c\r\n", "a b= c\r\n" },
		{ "quoted-printable", longws, longws_out },
		{ "7bit", "plain\r\n", "plain\r\n" },
	};
	for (size_t i = 0; i < ARRAY_LEN(dec); i++) {
		struct mime_msg m = { 0 };
		struct mime_part p = { 0 };
		m.buf = dec[i].in;
		m.len = strlen(dec[i].in);
		p.body_len = m.len;
		p.enc = (char *)dec[i].enc;
		size_t wl = i == 0 ? 5 : strlen(dec[i].want);
		size_t bl;
		char *bin = mime_part_binary(&m, &p, &bl);
		CHECK(bin && bl == wl && !memcmp(bin, dec[i].want, wl));
		free(bin);
		for (size_t split = 0; split <= m.len; split++) {
			struct mstream_dec d;
			CHECK(mstream_dec_init(&d, dec[i].enc));
			char out[512];
			size_t o = mstream_dec_run(&d, m.buf, split, false, out);
			o += mstream_dec_run(&d, m.buf + split, m.len - split, true, out + o);
			if (o != wl || memcmp(out, dec[i].want, wl))
				fprintf(stderr, "  case %zu split %zu: [%.*s]\n", i, split, (int)o, out);
			CHECK(o == wl && !memcmp(out, dec[i].want, wl));
		}
	}
	struct mstream_dec d;
	CHECK(!mstream_dec_init(&d, "x-uuencode"));
}

/* A heap image (a small message) is no longer calloc'd: what the parse did
 * not write, the bodies and the slack after the message, must still read as
 * zeros, also from memory a previous message left dirty. */
static void test_heap_image_zeros(void)
{
	static const char msg[] = "Subject: s\nContent-Type: multipart/mixed; boundary=b\n\n"
				  "pre\n--b\nContent-Type: text/plain\n\nbody one\n--b--\nepi\n";
	size_t n = sizeof msg - 1, img = 2 * n + 4096;
	char *dirty = xmalloc(img);	/* the chunk the parse's malloc gets back */
	memset(dirty, 0xaa, img);
	free(dirty);
	int fd = write_file(msg, n);
	struct mime_msg *m = mime_parse_fd(fd, 1 << 20, NULL);
	close(fd);
	CHECK(m && m->root->children);
	if (!m || !m->root->children)
		return;
	const struct mime_part *c = m->root->children;
	size_t bad = 0;
	for (size_t i = 0; i < c->body_len; i++)
		bad += m->buf[c->body_off + i] != 0;
	for (size_t i = 0; i < 4096; i++)
		bad += m->buf[m->len + i] != 0;
	CHECK(bad == 0);
	CHECK(!memcmp(m->buf + c->hdr_off, "Content-Type: text/plain\r\n", 26));
	mime_stream_free(m);
}

int main(void)
{
	tmpfile_path = xasprintf("%s/msg", check_tmpdir());
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char label[32];
		snprintf(label, sizeof label, "case %zu", i);
		compare(cases[i], strlen(cases[i]), label);
	}
	test_long_lines();
	test_long_header();
	test_long_header_sections();
	test_random();
	test_ranges_and_decoding();
	test_heap_image_zeros();
	free(tmpfile_path);
	return check_summary("mime_stream");
}
