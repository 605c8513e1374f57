/* mime_binconv.c — undo every transfer encoding of a MIME entity. */
#include "common/mime_binconv.h"
#include "common/mime_stream.h"
#include "common/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CTE_NAME "Content-Transfer-Encoding"

struct conv {
	const struct mime_msg *m;
	int fd;
	mime_sink sink;
	void *arg;
	int depth;
};

static bool encoded(const struct mime_part *p)
{
	return !p->multipart && !p->msg && p->enc &&
	       (!strcasecmp(p->enc, "base64") || !strcasecmp(p->enc, "quoted-printable"));
}

/* The CRLF octets [off, off + len) of the file, raw or decoded. */
static int copy(struct conv *c, uint64_t off, uint64_t len, const char *enc)
{
	struct mstream_dec d;
	if (!mstream_dec_init(&d, enc))
		return -1;
	struct crlf_reader *rd = xmalloc(sizeof *rd);
	crlf_reader_init(rd, c->fd, off, len);
	char in[16384], out[16384 + 8];
	int rc = 0;
	for (bool final = false; !final && rc == 0;) {
		ssize_t k = crlf_read(rd, in, sizeof in);
		if (k < 0) {
			rc = -1;
			break;
		}
		final = k == 0;
		size_t n = mstream_dec_run(&d, in, (size_t)k, final, out);
		if (n && c->sink(c->arg, out, n))
			rc = -1;
	}
	free(rd);
	return rc;
}

static int header_lines(struct conv *c, const struct mime_part *p, const char *h, const char *end)
{
	bool rewrite = encoded(p), skipping = false;
	while (h < end) {
		const char *nl = memchr(h, '\n', (size_t)(end - h));
		const char *next = nl ? nl + 1 : end;
		bool cont = *h == ' ' || *h == '\t';
		if (!cont)
			skipping = rewrite && (size_t)(next - h) > sizeof CTE_NAME &&
				   !strncasecmp(h, CTE_NAME, sizeof CTE_NAME - 1) &&
				   (h[sizeof CTE_NAME - 1] == ':' || isblank((unsigned char)h[sizeof CTE_NAME - 1]));
		if (skipping && !cont) {
			static const char field[] = CTE_NAME ": binary\r\n";
			if (c->sink(c->arg, field, sizeof field - 1))
				return -1;
		} else if (!skipping && c->sink(c->arg, h, (size_t)(next - h))) {
			return -1;
		}
		h = next;
	}
	return 0;
}

/* A header with its Content-Transfer-Encoding field (and the field's
 * continuation lines) replaced by "binary" when the body gets decoded; read
 * from the file where it is longer than the parsed image keeps. */
static int header(struct conv *c, const struct mime_part *p)
{
	char *owned;
	const char *h = mime_stream_text(c->m, c->fd, p->hdr_off, p->hdr_len, &owned);
	if (!h)
		return -1;
	int rc = header_lines(c, p, h, h + p->hdr_len);
	free(owned);
	return rc;
}

static int body(struct conv *c, const struct mime_part *p);

/* Header and body of an entity (a message, or a part of a multipart). */
static int entity(struct conv *c, const struct mime_part *p)
{
	return header(c, p) < 0 ? -1 : body(c, p);
}

static int body(struct conv *c, const struct mime_part *p)
{
	if (++c->depth > 2 * MIME_MAX_DEPTH)
		return -1;
	int rc;
	if (p->msg) {
		rc = entity(c, p->msg);
	} else if (p->multipart) {
		/* preamble and delimiters as they are, between the converted parts */
		uint64_t at = p->body_off, end = p->body_off + p->body_len;
		rc = 0;
		for (const struct mime_part *ch = p->children; ch && rc == 0; ch = ch->next) {
			if (ch->hdr_off < at || ch->body_off + ch->body_len > end)
				return -1;
			rc = copy(c, at, ch->hdr_off - at, NULL);
			if (rc == 0)
				rc = entity(c, ch);
			at = ch->body_off + ch->body_len;
		}
		if (rc == 0)
			rc = copy(c, at, end - at, NULL);
	} else {
		rc = copy(c, p->body_off, p->body_len, p->enc);
	}
	c->depth--;
	return rc;
}

int mime_binary_convert(const struct mime_msg *m, int fd, const struct mime_part *p, mime_sink sink,
			void *arg)
{
	struct conv c = { m, fd, sink, arg, 0 };
	if (p == m->root)
		return entity(&c, p);
	return body(&c, p);
}
