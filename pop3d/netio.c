/* netio.c — buffered client I/O with timeouts for the session process. */
#include "pop3d/netio.h"
#include "pop3d/pop3d.h"
#include "common/util.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void netio_init(struct netio *n, int fd, unsigned timeout_s, const void *pending, size_t npending)
{
	memset(n, 0, sizeof *n);
	n->fd = fd;
	n->timeout_ms = (int)(timeout_s * 1000);
	n->in_cap = POP3_MAX_PENDING + 8192;
	n->in = xmalloc(n->in_cap + 1);
	if (npending > POP3_MAX_PENDING)
		npending = POP3_MAX_PENDING;
	memcpy(n->in, pending, npending);
	n->in_end = npending;
	n->out = xmalloc(NETIO_OUT_MAX);
	fd_nonblock(fd);
}

void netio_free(struct netio *n)
{
	free(n->in);
	free(n->out);
	n->in = n->out = NULL;
}

static int wait_fd(struct netio *n, short ev)
{
	struct pollfd p = { n->fd, ev, 0 };
	int r;
	do
		r = poll(&p, 1, n->timeout_ms);
	while (r < 0 && errno == EINTR);
	return r;	/* 0 timeout, <0 error */
}

int netio_flush(struct netio *n)
{
	size_t off = 0;
	while (!n->failed && off < n->out_len) {
		ssize_t w = write(n->fd, n->out + off, n->out_len - off);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && wait_fd(n, POLLOUT) > 0)
			continue;
		n->failed = true;
	}
	n->bytes_out += off;
	n->out_len = 0;
	return n->failed ? -1 : 0;
}

void netio_write(struct netio *n, const void *p, size_t len)
{
	const char *s = p;
	while (len && !n->failed) {
		size_t k = NETIO_OUT_MAX - n->out_len;
		if (k > len)
			k = len;
		memcpy(n->out + n->out_len, s, k);
		n->out_len += k;
		s += k;
		len -= k;
		if (n->out_len == NETIO_OUT_MAX)
			netio_flush(n);
	}
}

void netio_printf(struct netio *n, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int k = vsnprintf(buf, sizeof buf - 2, fmt, ap);
	va_end(ap);
	if (k < 0)
		return;
	if ((size_t)k > sizeof buf - 3)
		k = sizeof buf - 3;
	memcpy(buf + k, "\r\n", 2);
	netio_write(n, buf, (size_t)k + 2);
}

/* Read more input; the buffer is compacted first. */
static enum netio_status fill(struct netio *n)
{
	if (n->in_start) {
		memmove(n->in, n->in + n->in_start, n->in_end - n->in_start);
		n->in_end -= n->in_start;
		n->in_start = 0;
	}
	if (netio_flush(n) < 0)
		return NET_ERROR;
	for (;;) {
		ssize_t r = read(n->fd, n->in + n->in_end, n->in_cap - n->in_end);
		if (r > 0) {
			n->in_end += (size_t)r;
			return NET_LINE;
		}
		if (r == 0)
			return NET_EOF;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return NET_ERROR;
		int w = wait_fd(n, POLLIN);
		if (w == 0)
			return NET_TIMEOUT;
		if (w < 0)
			return NET_ERROR;
	}
}

enum netio_status netio_line(struct netio *n, size_t max, char **line, bool *has_nul)
{
	for (;;) {
		char *s = n->in + n->in_start;
		size_t avail = n->in_end - n->in_start;
		char *lf = memchr(s, '\n', avail);
		if (n->skipping) {
			n->in_start = lf ? (size_t)(lf + 1 - n->in) : n->in_end;
			n->skipping = !lf;
			if (lf)
				continue;
		} else if (lf && (size_t)(lf - s) + 1 <= max) {
			size_t len = (size_t)(lf - s);
			if (len && s[len - 1] == '\r')
				len--;
			s[len] = '\0';
			*has_nul = memchr(s, '\0', len) != NULL;
			*line = s;
			n->in_start += (size_t)(lf - s) + 1;
			return NET_LINE;
		} else if (lf || avail >= max) {
			n->skipping = true;
			return NET_TOOLONG;
		}
		enum netio_status st = fill(n);
		if (st != NET_LINE)
			return st;
	}
}
