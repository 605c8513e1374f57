/* linereader.c — bounded line reading. */
#include "common/linereader.h"
#include "common/util.h"

#include <errno.h>
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fill_line(struct line *out, const char *p, size_t n_with_lf)
{
	size_t n = n_with_lf;
	bool lf = n && p[n - 1] == '\n';
	if (lf)
		n--;
	out->crlf = lf && n && p[n - 1] == '\r';
	if (out->crlf)
		n--;
	out->text = xmalloc(n + 1);
	memcpy(out->text, p, n);
	out->text[n] = '\0';
	out->len = n;
	out->bare_cr = memchr(out->text, '\r', n) != NULL;
	out->has_nul = memchr(out->text, '\0', n) != NULL;
}

enum line_status line_read(struct evbuffer *buf, size_t max, struct line *out)
{
	struct evbuffer_ptr lf = evbuffer_search(buf, "\n", 1, NULL);
	size_t avail = evbuffer_get_length(buf);
	memset(out, 0, sizeof *out);
	if (lf.pos < 0)
		return avail >= max ? LINE_TOOLONG : LINE_MORE;
	size_t n = (size_t)lf.pos + 1;
	if (n > max)
		return LINE_TOOLONG;
	char *tmp = xmalloc(n);
	evbuffer_remove(buf, tmp, n);
	fill_line(out, tmp, n);
	free(tmp);
	return LINE_OK;
}

bool line_skip(struct evbuffer *buf)
{
	struct evbuffer_ptr lf = evbuffer_search(buf, "\n", 1, NULL);
	if (lf.pos < 0) {
		evbuffer_drain(buf, evbuffer_get_length(buf));
		return false;
	}
	evbuffer_drain(buf, (size_t)lf.pos + 1);
	return true;
}

void line_free(struct line *l)
{
	free(l->text);
	l->text = NULL;
}

void fdreader_init(struct fdreader *r, int fd)
{
	memset(r, 0, sizeof *r);
	r->fd = fd;
}

static int fdreader_fill(struct fdreader *r)
{
	if (r->start > 0) {
		memmove(r->buf, r->buf + r->start, r->end - r->start);
		r->end -= r->start;
		r->start = 0;
	}
	for (;;) {
		ssize_t n = read(r->fd, r->buf + r->end, sizeof r->buf - r->end);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			r->eof = true;
		r->end += (size_t)n;
		return 0;
	}
}

int fdreader_line(struct fdreader *r, size_t max, struct line *out)
{
	bool toolong = false;
	memset(out, 0, sizeof *out);
	for (;;) {
		char *s = r->buf + r->start;
		size_t avail = r->end - r->start;
		char *lf = memchr(s, '\n', avail);
		if (lf) {
			size_t n = (size_t)(lf - s) + 1;
			r->start += n;
			if (toolong || n > max)
				return LINE_TOOLONG;
			fill_line(out, s, n);
			return LINE_OK;
		}
		if (avail >= max || avail == sizeof r->buf) {
			/* Too long (or longer than our buffer): drop and keep skipping. */
			toolong = true;
			r->start = r->end = 0;
			avail = 0;
		}
		if (r->eof) {
			if (toolong)
				return LINE_TOOLONG;
			if (avail == 0)
				return LINE_MORE;
			fill_line(out, s, avail);
			r->start = r->end;
			return LINE_OK;
		}
		if (fdreader_fill(r) < 0)
			return -1;
	}
}

bool line_output_full(struct evbuffer *output)
{
	return evbuffer_get_length(output) > LINE_OUTPUT_MAX;
}
