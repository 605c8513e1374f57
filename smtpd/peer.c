/* peer.c — asynchronous ipc request/reply client (see peer.h). */
#include "smtpd/peer.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pending {
	uint32_t id;
	peer_cb cb;
	void *owner;
	uint64_t deadline;	/* now_ms(); past it the owner gets reply == NULL */
	struct pending *next;
};

struct peer {
	struct event_base *base;
	char *path, *name;
	struct ipc_conn conn;
	bool connected;
	struct event *rd, *wr;
	struct pending *head, **tail;
	uint32_t next_id;
	/* Requests that failed before reaching the server; answered from a timer so
	 * callbacks never run inside peer_request. */
	struct pending *failed;
	struct event *fail_ev;
	int timeout_ms;
	struct event *tick;	/* checks deadlines while requests are pending */
};

static void fail_all(struct peer *p);

/* A server that stops answering must not hold sessions forever: past its
 * deadline a request is answered with NULL; the entry stays (owner NULL) so a
 * late reply still reaches the callback, which releases what it carries. */
static void arm_tick(struct peer *p);

static void on_tick(evutil_socket_t fd, short ev, void *arg)
{
	struct peer *p = arg;
	uint64_t now = now_ms();
	/* Rescan after each callback: it may send requests or drop the connection. */
	for (bool again = true; again;) {
		again = false;
		for (struct pending *q = p->head; q; q = q->next) {
			if (q->owner && now >= q->deadline) {
				void *owner = q->owner;
				q->owner = NULL;
				log_warn("%s: no answer to request %u within %d ms", p->name, q->id,
					 p->timeout_ms);
				q->cb(owner, NULL);
				again = true;
				break;
			}
		}
	}
	arm_tick(p);
}

static void arm_tick(struct peer *p)
{
	struct timeval tv = { 1, 0 };
	if (p->head && !evtimer_pending(p->tick, NULL))
		evtimer_add(p->tick, &tv);
}

static void run_failed(evutil_socket_t fd, short ev, void *arg)
{
	struct peer *p = arg;
	struct pending *f = p->failed;
	p->failed = NULL;
	while (f) {
		struct pending *next = f->next;
		f->cb(f->owner, NULL);
		free(f);
		f = next;
	}
}

static void disconnect(struct peer *p, const char *why)
{
	if (!p->connected)
		return;
	log_warn("%s: connection to %s lost: %s", p->name, p->path, why);
	event_free(p->rd);
	event_free(p->wr);
	p->rd = p->wr = NULL;
	ipc_conn_close(&p->conn);
	p->connected = false;
	fail_all(p);
}

static void dispatch(struct peer *p, struct ipc_msg *m)
{
	for (struct pending **pp = &p->head; *pp; pp = &(*pp)->next) {
		struct pending *q = *pp;
		if (q->id != m->hdr.id)
			continue;
		*pp = q->next;
		if (p->tail == &q->next)
			p->tail = pp;
		q->cb(q->owner, m);
		free(q);
		return;
	}
	log_warn("%s: reply %u type %u matches no request", p->name, m->hdr.id, m->hdr.type);
}

static void on_read(evutil_socket_t fd, short ev, void *arg)
{
	struct peer *p = arg;
	if (ipc_conn_read(&p->conn) < 0) {
		disconnect(p, strerror(errno));
		return;
	}
	for (;;) {
		struct ipc_msg m;
		int r = ipc_conn_next(&p->conn, &m);
		if (r < 0) {
			disconnect(p, "malformed message");
			return;
		}
		if (r == 0)
			break;
		dispatch(p, &m);
		ipc_msg_free(&m);
	}
	if (p->conn.eof)
		disconnect(p, "closed by server");
}

static void flush(struct peer *p)
{
	int r = ipc_conn_flush(&p->conn);
	if (r < 0)
		disconnect(p, strerror(errno));
	else if (r == 0)
		event_add(p->wr, NULL);
}

static void on_write(evutil_socket_t fd, short ev, void *arg)
{
	flush(arg);
}

static bool ensure_connected(struct peer *p)
{
	if (p->connected)
		return true;
	int s = ipc_connect(p->path);
	if (s < 0) {
		log_warn("%s: cannot connect to %s: %s", p->name, p->path, strerror(errno));
		return false;
	}
	fd_nonblock(s);
	ipc_conn_init(&p->conn, s);
	p->rd = event_new(p->base, s, EV_READ | EV_PERSIST, on_read, p);
	p->wr = event_new(p->base, s, EV_WRITE, on_write, p);
	event_add(p->rd, NULL);
	p->connected = true;
	return true;
}

struct peer *peer_new(struct event_base *base, const char *path, const char *name, int timeout_ms)
{
	struct peer *p = xcalloc(1, sizeof *p);
	p->timeout_ms = timeout_ms > 0 ? timeout_ms : 120000;
	p->tick = evtimer_new(base, on_tick, p);
	p->base = base;
	p->path = xstrdup(path);
	p->name = xstrdup(name);
	p->tail = &p->head;
	p->next_id = 1;
	p->fail_ev = evtimer_new(base, run_failed, p);
	return p;
}

uint32_t peer_next_id(struct peer *p)
{
	if (p->next_id == 0)
		p->next_id = 1;
	return p->next_id++;
}

static void defer_failure(struct peer *p, struct pending *q)
{
	q->next = p->failed;
	p->failed = q;
	struct timeval now = { 0, 0 };
	evtimer_add(p->fail_ev, &now);
}

static void fail_all(struct peer *p)
{
	while (p->head) {
		struct pending *q = p->head;
		p->head = q->next;
		defer_failure(p, q);
	}
	p->tail = &p->head;
}

void peer_request(struct peer *p, struct ipc_msg *req, peer_cb cb, void *owner)
{
	struct pending *q = xcalloc(1, sizeof *q);
	if (req->hdr.id == 0)
		req->hdr.id = peer_next_id(p);
	q->id = req->hdr.id;
	q->cb = cb;
	q->owner = owner;
	if (!ensure_connected(p)) {
		ipc_msg_free(req);
		defer_failure(p, q);
		return;
	}
	q->deadline = now_ms() + (uint64_t)p->timeout_ms;
	*p->tail = q;
	p->tail = &q->next;
	arm_tick(p);
	ipc_conn_queue(&p->conn, req);
	ipc_msg_free(req);
	flush(p);
}

void peer_send(struct peer *p, struct ipc_msg *msg)
{
	if (msg->hdr.id == 0)
		msg->hdr.id = peer_next_id(p);
	if (ensure_connected(p)) {
		ipc_conn_queue(&p->conn, msg);
		flush(p);
	}
	ipc_msg_free(msg);
}

void peer_cancel(struct peer *p, void *owner)
{
	for (struct pending *q = p->head; q; q = q->next)
		if (q->owner == owner)
			q->owner = NULL;
	for (struct pending *q = p->failed; q; q = q->next)
		if (q->owner == owner)
			q->owner = NULL;
}

void peer_free(struct peer *p)
{
	if (!p)
		return;
	if (p->connected) {
		event_free(p->rd);
		event_free(p->wr);
		ipc_conn_close(&p->conn);
	}
	for (struct pending *q = p->head, *n; q; q = n) {
		n = q->next;
		free(q);
	}
	for (struct pending *q = p->failed, *n; q; q = n) {
		n = q->next;
		free(q);
	}
	event_free(p->fail_ev);
	event_free(p->tick);
	free(p->path);
	free(p->name);
	free(p);
}
