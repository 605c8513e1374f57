/* auth_async.c — pipelined, reconnecting auth client on libevent. */
#include "common/auth_async.h"
#include "common/auth_proto.h"
#include "common/log.h"
#include "common/util.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

struct waiter {
	uint32_t id;
	uint64_t deadline;
	authq_cb cb;
	void *arg;
	struct waiter *next;
};

struct authq {
	struct event_base *base;
	char *path;
	int timeout_ms;
	struct ipc_conn conn;
	bool connected;
	struct event *ev_rd, *ev_wr, *ev_timer;
	uint32_t next_id;
	struct waiter *waiters;
};

static void fail_all(struct authq *a, const char *why)
{
	if (a->waiters)
		log_warn("auth service %s: %s", a->path, why);
	if (a->connected) {
		event_free(a->ev_rd);
		event_free(a->ev_wr);
		ipc_conn_close(&a->conn);
		a->connected = false;
	}
	struct waiter *w = a->waiters;
	a->waiters = NULL;
	while (w) {
		struct waiter *n = w->next;
		w->cb(w->arg, NULL);
		free(w);
		w = n;
	}
}

static void on_read(evutil_socket_t fd, short what, void *p)
{
	struct authq *a = p;
	if (ipc_conn_read(&a->conn) < 0) {
		fail_all(a, "read error");
		return;
	}
	struct ipc_msg m;
	int r;
	while ((r = ipc_conn_next(&a->conn, &m)) == 1) {
		struct waiter **pw = &a->waiters;
		while (*pw && (*pw)->id != m.hdr.id)
			pw = &(*pw)->next;
		if (*pw) {
			struct waiter *w = *pw;
			*pw = w->next;
			w->cb(w->arg, &m);
			free(w);
		}
		ipc_msg_free(&m);
	}
	if (r < 0)
		fail_all(a, "malformed reply");
	else if (a->conn.eof)
		fail_all(a, "connection closed");
}

static void on_write(evutil_socket_t fd, short what, void *p)
{
	struct authq *a = p;
	int r = ipc_conn_flush(&a->conn);
	if (r < 0)
		fail_all(a, "write error");
	else if (r == 0)
		event_add(a->ev_wr, NULL);
}

static void on_timer(evutil_socket_t fd, short what, void *p)
{
	struct authq *a = p;
	uint64_t now = now_ms();
	for (struct waiter *w = a->waiters; w; w = w->next) {
		if (w->deadline <= now) {
			fail_all(a, "request timed out");
			break;
		}
	}
	if (a->waiters) {
		struct timeval tv = { 1, 0 };
		evtimer_add(a->ev_timer, &tv);
	}
}

static bool ensure_conn(struct authq *a)
{
	if (a->connected)
		return true;
	int s = ipc_connect(a->path);
	if (s < 0)
		return false;
	fd_nonblock(s);
	ipc_conn_init(&a->conn, s);
	a->ev_rd = event_new(a->base, s, EV_READ | EV_PERSIST, on_read, a);
	a->ev_wr = event_new(a->base, s, EV_WRITE, on_write, a);
	event_add(a->ev_rd, NULL);
	a->connected = true;
	return true;
}

struct authq *authq_new(struct event_base *base, const char *sock_path, int timeout_ms)
{
	struct authq *a = xcalloc(1, sizeof *a);
	a->base = base;
	a->path = xstrdup(sock_path);
	a->timeout_ms = timeout_ms;
	a->ev_timer = evtimer_new(base, on_timer, a);
	a->next_id = 1;
	return a;
}

void authq_request(struct authq *a, struct ipc_msg *req, authq_cb cb, void *arg)
{
	if (!ensure_conn(a)) {
		ipc_msg_free(req);
		log_warn("auth service %s unreachable", a->path);
		cb(arg, NULL);
		return;
	}
	req->hdr.id = a->next_id++;
	struct waiter *w = xcalloc(1, sizeof *w);
	w->id = req->hdr.id;
	w->deadline = now_ms() + (uint64_t)a->timeout_ms;
	w->cb = cb;
	w->arg = arg;
	w->next = a->waiters;
	a->waiters = w;
	ipc_conn_queue(&a->conn, req);
	ipc_msg_free(req);
	if (!evtimer_pending(a->ev_timer, NULL)) {
		struct timeval tv = { 1, 0 };
		evtimer_add(a->ev_timer, &tv);
	}
	on_write(-1, 0, a);
}

static void simple(struct authq *a, int type, const char *address, authq_cb cb, void *arg)
{
	struct ipc_msg m;
	ipc_msg_init(&m, (uint16_t)type, 0);
	ipc_put_str(&m, address);
	authq_request(a, &m, cb, arg);
}

void authq_rcpt(struct authq *a, const char *address, authq_cb cb, void *arg)
{
	simple(a, AUTH_RCPT_REQ, address, cb, arg);
}

void authq_expand(struct authq *a, const char *address, authq_cb cb, void *arg)
{
	simple(a, AUTH_EXPAND_REQ, address, cb, arg);
}
