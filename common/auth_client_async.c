/* auth_client_async.c — the libevent client of the auth service, for the
 * network daemons: many requests in flight, one callback each.
 *
 * Connects lazily by path. When the connection drops (authd restarted, bad
 * reply) every pending request gets a TEMPFAIL answer and the next request
 * connects again. Each request also has a deadline, so a stuck service turns
 * into TEMPFAIL answers rather than hung sessions. Callbacks always run from
 * the event loop, never inside auth_client_call, so callers need no re-entrancy
 * care. */
#include "common/auth_client.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct pending {
	struct pending *next;
	uint32_t id;
	uint16_t type;		/* request type */
	uint64_t deadline;	/* now_ms() */
	auth_cb cb;		/* NULL once cancelled */
	void *arg;
	bool failed;		/* answer with TEMPFAIL at the next tick */
};

struct auth_client {
	struct event_base *base;
	char *path;
	int timeout_ms;
	struct ipc_conn ic;
	bool connected;
	struct event *rev, *wev, *tick;
	struct pending *pending;	/* newest first */
	uint32_t next_id;
};

static void read_cb(evutil_socket_t fd, short what, void *arg);
static void write_cb(evutil_socket_t fd, short what, void *arg);

/* Run tick_cb in ms; 0 means now. A pending periodic tick is not pushed back
 * (a steady stream of requests must not postpone the timeout checks). */
static void arm_tick(struct auth_client *c, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	if (ms == 0 || !evtimer_pending(c->tick, NULL))
		evtimer_add(c->tick, &tv);
}

static void disconnect(struct auth_client *c, const char *why)
{
	if (!c->connected)
		return;
	log_warn("auth service connection lost (%s): pending requests fail temporarily", why);
	event_free(c->rev);
	event_free(c->wev);
	c->rev = c->wev = NULL;
	ipc_conn_close(&c->ic);
	c->connected = false;
	for (struct pending *p = c->pending; p; p = p->next)
		p->failed = true;
	arm_tick(c, 0);
}

static bool connect_now(struct auth_client *c)
{
	if (c->connected)
		return true;
	int s = ipc_connect(c->path);
	if (s < 0)
		return false;
	fd_nonblock(s);
	ipc_conn_init(&c->ic, s);
	ipc_conn_sensitive(&c->ic);	/* passwords out, login tokens in */
	c->rev = event_new(c->base, s, EV_READ | EV_PERSIST, read_cb, c);
	c->wev = event_new(c->base, s, EV_WRITE, write_cb, c);
	if (!c->rev || !c->wev)
		fatal("event_new");
	event_add(c->rev, NULL);
	c->connected = true;
	return true;
}

static struct pending *take(struct auth_client *c, uint32_t id)
{
	for (struct pending **pp = &c->pending; *pp; pp = &(*pp)->next) {
		if ((*pp)->id == id) {
			struct pending *p = *pp;
			*pp = p->next;
			return p;
		}
	}
	return NULL;
}

static void answer(struct pending *p, const struct auth_reply *r)
{
	if (p->cb)
		p->cb(r, p->arg);
	free(p);
}

static void answer_tempfail(struct pending *p)
{
	struct auth_reply r;
	auth_reply_tempfail(&r, p->type);
	answer(p, &r);
	auth_reply_free(&r);
}

/* Answer failed and overdue requests (and drop cancelled ones); rearm. */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct auth_client *c = arg;
	uint64_t now = now_ms();
	struct pending *due = NULL;
	for (struct pending **pp = &c->pending; *pp;) {
		struct pending *p = *pp;
		if (p->failed || now >= p->deadline || !p->cb) {
			*pp = p->next;
			p->next = due;
			due = p;
		} else {
			pp = &p->next;
		}
	}
	if (c->pending)
		arm_tick(c, 500);
	while (due) {	/* callbacks last: they may issue new requests */
		struct pending *p = due;
		due = p->next;
		if (p->cb && !p->failed)
			log_warn("auth service: no answer within %d ms", c->timeout_ms);
		answer_tempfail(p);
	}
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct auth_client *c = arg;
	struct ipc_msg m;
	int r;
	if (ipc_conn_read(&c->ic) < 0) {
		disconnect(c, strerror(errno));
		return;
	}
	while (c->connected && (r = ipc_conn_next(&c->ic, &m)) != 0) {
		if (r < 0) {
			disconnect(c, "malformed reply");
			return;
		}
		struct pending *p = take(c, m.hdr.id);
		struct auth_reply rep;
		if (!p) {	/* answer to a request that timed out */
			ipc_msg_free(&m);
			continue;
		}
		bool ok = auth_reply_parse(&m, p->type, &rep);
		ipc_msg_free(&m);
		answer(p, &rep);
		auth_reply_free(&rep);
		if (!ok) {
			disconnect(c, "malformed reply");
			return;
		}
	}
	if (c->connected && c->ic.eof)
		disconnect(c, "closed by the service");
}

static void write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct auth_client *c = arg;
	int r = ipc_conn_flush(&c->ic);
	if (r < 0)
		disconnect(c, strerror(errno));
	else if (r == 0)
		event_add(c->wev, NULL);
}

struct auth_client *auth_client_new(struct event_base *base, const char *path, int timeout_ms)
{
	struct auth_client *c = xcalloc(1, sizeof *c);
	c->base = base;
	c->path = xstrdup(path);
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
	c->next_id = 1;
	c->tick = evtimer_new(base, tick_cb, c);
	if (!c->tick)
		fatal("evtimer_new");
	ipc_conn_init(&c->ic, -1);
	return c;
}

void auth_client_free(struct auth_client *c)
{
	if (!c)
		return;
	if (c->connected) {
		event_free(c->rev);
		event_free(c->wev);
		ipc_conn_close(&c->ic);
	}
	while (c->pending) {
		struct pending *p = c->pending;
		c->pending = p->next;
		free(p);
	}
	event_free(c->tick);
	free(c->path);
	free(c);
}

uint32_t auth_client_call(struct auth_client *c, struct ipc_msg *req, auth_cb cb, void *arg)
{
	struct pending *p = xcalloc(1, sizeof *p);
	p->id = c->next_id++;
	if (c->next_id == 0)
		c->next_id = 1;
	p->type = req->hdr.type;
	p->deadline = now_ms() + (uint64_t)c->timeout_ms;
	p->cb = cb;
	p->arg = arg;
	p->next = c->pending;
	c->pending = p;
	if (connect_now(c)) {
		req->hdr.id = p->id;
		ipc_conn_queue(&c->ic, req);
		event_add(c->wev, NULL);
		arm_tick(c, 500);
	} else {
		p->failed = true;	/* answered TEMPFAIL from the loop */
		arm_tick(c, 0);
	}
	ipc_msg_free(req);	/* a LOGIN request is sensitive: wiped */
	return p->id;
}

uint32_t auth_client_login(struct auth_client *c, const char *service, const char *user,
			   const char *password, const char *client_ip, auth_cb cb, void *arg)
{
	struct ipc_msg m;
	auth_req_login(&m, 0, service, user, password, client_ip);
	return auth_client_call(c, &m, cb, arg);
}

uint32_t auth_client_site_login(struct auth_client *c, const char *service, const char *user,
				const char *secret, const char *client_ip, auth_cb cb, void *arg)
{
	struct ipc_msg m;
	auth_req_site_login(&m, 0, service, user, secret, client_ip);
	return auth_client_call(c, &m, cb, arg);
}

uint32_t auth_client_rcpt(struct auth_client *c, const char *address, auth_cb cb, void *arg)
{
	struct ipc_msg m;
	auth_req_rcpt(&m, 0, address);
	return auth_client_call(c, &m, cb, arg);
}

uint32_t auth_client_route(struct auth_client *c, const char *address, auth_cb cb, void *arg)
{
	struct ipc_msg m;
	auth_req_route(&m, 0, address);
	return auth_client_call(c, &m, cb, arg);
}

uint32_t auth_client_sender(struct auth_client *c, const char *user, const char *address,
			    auth_cb cb, void *arg)
{
	struct ipc_msg m;
	auth_req_sender(&m, 0, user, address);
	return auth_client_call(c, &m, cb, arg);
}

uint32_t auth_client_addresses(struct auth_client *c, const char *user, auth_cb cb, void *arg)
{
	struct ipc_msg m;
	auth_req_addresses(&m, 0, user);
	return auth_client_call(c, &m, cb, arg);
}

void auth_client_cancel(struct auth_client *c, uint32_t id)
{
	for (struct pending *p = c->pending; p; p = p->next)
		if (p->id == id)
			p->cb = NULL;	/* dropped at the next tick or when its answer comes */
}
