/* chan.c — a channel end in a libevent loop (see chan.h). */
#include "httpd/chan.h"
#include "httpd/proto.h"
#include "common/util.h"

#include <errno.h>
#include <poll.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct chan {
	struct ipc_conn conn;
	struct event *rd, *wr, *closed;
	char why[128];
	chan_msg_cb on_msg;
	chan_close_cb on_close;
	void *arg;
	bool open;
};

/* Reported from an event of its own, so that no caller of chan_send or
 * on_msg finds its state changed under it. */
static void shut(struct chan *c, const char *why)
{
	if (!c->open)
		return;
	c->open = false;
	event_del(c->rd);
	event_del(c->wr);
	strlcpy_t(c->why, why, sizeof c->why);
	event_active(c->closed, EV_TIMEOUT, 0);
}

static void on_closed(evutil_socket_t fd, short what, void *arg)
{
	struct chan *c = arg;
	c->on_close(c, c->why, c->arg);
}

static void flush(struct chan *c)
{
	int r = ipc_conn_flush(&c->conn);
	if (r < 0)
		shut(c, strerror(errno));
	else if (r == 0)
		event_add(c->wr, NULL);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	flush(arg);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct chan *c = arg;
	if (ipc_conn_read(&c->conn) < 0) {
		shut(c, strerror(errno));
		return;
	}
	while (c->open) {
		struct ipc_msg m;
		int r = ipc_conn_next(&c->conn, &m);
		if (r < 0) {
			shut(c, "malformed frame");
			return;
		}
		if (r == 0)
			break;
		c->on_msg(c, &m, c->arg);
		ipc_msg_free(&m);
	}
	if (c->open && c->conn.eof)
		shut(c, "closed by peer");
}

struct chan *chan_new(struct event_base *base, int sock, chan_msg_cb on_msg,
		      chan_close_cb on_close, void *arg)
{
	struct chan *c = xcalloc(1, sizeof *c);
	fd_nonblock(sock);
	ipc_conn_init(&c->conn, sock);
	c->on_msg = on_msg;
	c->on_close = on_close;
	c->arg = arg;
	c->rd = event_new(base, sock, EV_READ | EV_PERSIST, on_read, c);
	c->wr = event_new(base, sock, EV_WRITE, on_write, c);
	c->closed = event_new(base, -1, 0, on_closed, c);
	c->open = true;
	event_add(c->rd, NULL);
	return c;
}

void chan_free(struct chan *c)
{
	if (!c)
		return;
	event_free(c->rd);
	event_free(c->wr);
	event_free(c->closed);
	ipc_conn_close(&c->conn);
	free(c);
}

bool chan_open(const struct chan *c)
{
	return c->open;
}

void chan_send(struct chan *c, struct ipc_msg *m)
{
	if (c->open) {
		ipc_conn_queue(&c->conn, m);
		flush(c);
	}
	ipc_msg_free(m);
}

int chan_flush_wait(struct chan *c, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	while (c->open && chan_backlog(c) > 0) {
		int r = ipc_conn_flush(&c->conn);
		if (r < 0) {
			shut(c, strerror(errno));
			break;
		}
		uint64_t now = now_ms();
		if (r == 1 || now >= deadline)
			break;
		struct pollfd p = { .fd = c->conn.sock, .events = POLLOUT };
		poll(&p, 1, (int)(deadline - now));
	}
	return c->open && chan_backlog(c) == 0 ? 0 : -1;
}

size_t chan_backlog(const struct chan *c)
{
	return c->conn.out.len - c->conn.out_off;
}

int chan_put_body(struct ipc_msg *m, const void *data, size_t len)
{
	ipc_put_u64(m, len);
	if (len <= CHAN_INLINE_MAX) {
		ipc_put_bytes(m, len ? data : "", len);
		return 0;
	}
	int fd = memfd_create("body", MFD_CLOEXEC);
	if (fd < 0 || write_all(fd, data, len) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	ipc_put_bytes(m, "", 0);
	ipc_put_fd(m, fd);
	return 0;
}

int chan_put_body_evbuffer(struct ipc_msg *m, struct evbuffer *b)
{
	size_t len = evbuffer_get_length(b);
	if (len <= CHAN_INLINE_MAX)
		return chan_put_body(m, evbuffer_pullup(b, -1), len);
	int fd = memfd_create("body", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	/* chunk by chunk, never one contiguous copy of a large body */
	while (evbuffer_get_length(b) > 0) {
		struct evbuffer_iovec v;
		if (evbuffer_peek(b, -1, NULL, &v, 1) < 1 || write_all(fd, v.iov_base, v.iov_len) < 0) {
			close(fd);
			return -1;
		}
		evbuffer_drain(b, v.iov_len);
	}
	ipc_put_u64(m, len);
	ipc_put_bytes(m, "", 0);
	ipc_put_fd(m, fd);
	return 0;
}

int chan_put_body_fd(struct ipc_msg *m, int fd, size_t len)
{
	if (len > CHAN_INLINE_MAX) {
		ipc_put_u64(m, len);
		ipc_put_bytes(m, "", 0);
		ipc_put_fd(m, fd);
		return 0;
	}
	char buf[CHAN_INLINE_MAX];
	ssize_t n = pread(fd, buf, len, 0);
	close(fd);
	if (n < 0 || (size_t)n != len)
		return -1;
	return chan_put_body(m, buf, len);
}

bool chan_get_body_ref(struct ipc_msg *m, size_t max, size_t *len, const void **inl, int *fd)
{
	uint64_t n = ipc_get_u64(m);
	size_t got;
	const void *p = ipc_get_bytes(m, &got, CHAN_INLINE_MAX);
	*fd = -1;
	*inl = NULL;
	/* The body is the last field of every frame that has one: anything
	 * after it, or an fd beside an inline body, is a malformed frame. */
	if (!ipc_end(m) || n > max)
		return false;
	*len = (size_t)n;
	if (n <= CHAN_INLINE_MAX) {
		*inl = p;
		return got == n && m->fd < 0;
	}
	struct stat st;
	*fd = ipc_take_fd(m);
	if (*fd < 0 || got != 0 || fstat(*fd, &st) < 0 || (uint64_t)st.st_size != n) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		return false;
	}
	return true;
}

char *chan_get_body(struct ipc_msg *m, size_t max, size_t *len)
{
	const void *inl;
	int fd;
	if (!chan_get_body_ref(m, max, len, &inl, &fd))
		return NULL;
	char *out = xmalloc(*len + 1);
	if (fd < 0) {
		memcpy(out, inl, *len);
	} else {
		ssize_t r = pread(fd, out, *len, 0);
		close(fd);
		if (r < 0 || (size_t)r != *len) {
			free(out);
			return NULL;
		}
	}
	out[*len] = '\0';
	return out;
}
