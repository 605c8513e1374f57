/* mime_binary.c — binary body parts re-encoded as base64 (see mime_binary.h).
 *
 * The message is parsed once (mime_parse, with its limits); the headers and
 * bodies of the parts to convert are the only ranges that change, so the
 * output is the input copied up to each of them, the rewritten range, and so
 * on. Parts past the parser's limits are opaque and pass unchanged. */
#include "common/mime_binary.h"
#include "common/mime.h"
#include "common/util.h"

#include <event2/buffer.h>
#include <stdbool.h>
#include <stdlib.h>
#include <strings.h>

#define B64_LINE_IN	57	/* octets per 76-column base64 line */

struct conv {
	const char *buf;
	size_t pos;		/* input copied up to here */
	mime_sink put;
	void *arg;
	int rc;
};

static void emit(struct conv *c, const char *p, size_t n)
{
	if (!c->rc && n)
		c->rc = c->put(c->arg, p, n);
}

static void copy_to(struct conv *c, size_t off)
{
	if (off > c->pos)
		emit(c, c->buf + c->pos, off - c->pos);
	c->pos = off;
}

/* The part's header without its Content-Transfer-Encoding, then ours. */
static void header_out(struct conv *c, const struct mime_part *p)
{
	static char *cte[] = { "Content-Transfer-Encoding" };
	struct evbuffer *b = evbuffer_new();
	mime_header_filter(c->buf + p->hdr_off, p->hdr_len, cte, 1, true, b);
	size_t n = evbuffer_get_length(b);
	emit(c, (const char *)evbuffer_pullup(b, -1), n - 2);	/* without the empty line */
	emit(c, "Content-Transfer-Encoding: base64\r\n\r\n", 37);
	evbuffer_free(b);
	c->pos = p->hdr_off + p->hdr_len;
}

static void base64_out(struct conv *c, const unsigned char *s, size_t n)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char line[80];
	for (size_t i = 0; i < n; i += B64_LINE_IN) {
		size_t end = i + B64_LINE_IN < n ? i + B64_LINE_IN : n, o = 0;
		for (size_t k = i; k < end; k += 3) {
			unsigned v = (unsigned)s[k] << 16;
			v |= k + 1 < end ? (unsigned)s[k + 1] << 8 : 0;
			v |= k + 2 < end ? s[k + 2] : 0;
			line[o++] = abc[v >> 18 & 63];
			line[o++] = abc[v >> 12 & 63];
			line[o++] = k + 1 < end ? abc[v >> 6 & 63] : '=';
			line[o++] = k + 2 < end ? abc[v & 63] : '=';
		}
		line[o++] = '\r';
		line[o++] = '\n';
		emit(c, line, o);
	}
}

static bool convertible(const struct mime_part *p)
{
	return !p->multipart && !p->msg && p->enc && !strcasecmp(p->enc, "binary");
}

/* The parts of p's subtree in order: converted ones rewritten, the input
 * between them copied. */
static void walk(struct conv *c, const struct mime_part *p)
{
	if (p->multipart) {
		for (const struct mime_part *k = p->children; k; k = k->next)
			walk(c, k);
	} else if (p->msg) {
		walk(c, p->msg);
	} else if (convertible(p) && p->hdr_off >= c->pos) {
		copy_to(c, p->hdr_off);
		header_out(c, p);
		copy_to(c, p->body_off);
		base64_out(c, (const unsigned char *)c->buf + p->body_off, p->body_len);
		c->pos = p->body_off + p->body_len;
	}
}

int mime_binary_encode(const char *buf, size_t len, mime_sink put, void *arg)
{
	struct mime_msg *m = mime_parse(buf, len);
	struct conv c = { .buf = buf, .put = put, .arg = arg };
	walk(&c, m->root);
	copy_to(&c, len);
	mime_free(m);
	return c.rc;
}
