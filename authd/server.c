/* server.c — authd's connections: accept on RUN/auth.sock, check the peer,
 * read framed requests, dispatch each to its handler, write replies (some of
 * them late: failed logins wait on a timer, never blocking the loop). */
#include "authd/authd.h"
#include "common/auth_proto.h"
#include "common/listener.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONN_MAX_OUT (4u * 1024 * 1024)	/* unread replies before we give up on a client */

struct delayed {
	struct delayed *next, *prev;
	struct conn *c;
	struct event *ev;
	struct ipc_msg msg;
};

struct conn {
	struct conn *next, *prev;	/* all connections (for draining) */
	struct ipc_conn ic;
	struct event *rev, *wev;
	char peer[48];
	struct delayed *delayed;
	struct conn_job *jobs;
	unsigned npending;		/* delayed replies + jobs */
	bool broken;		/* close at the next safe point */
};

static struct conn *conns;
static struct listener *listen_lis;
static struct event *drain_timer;
static bool draining;

#define DRAIN_MAX_S 120	/* a reload never keeps the old authd longer than this */

static const struct {
	uint16_t type;
	const char *name;
	auth_handler fn;
} handlers[] = {
	{ AUTH_LOGIN_REQ, "LOGIN", handle_login },
	{ AUTH_RCPT_REQ, "RCPT", handle_rcpt },
	{ AUTH_SENDER_REQ, "SENDER", handle_sender },
	{ AUTH_EXPAND_REQ, "EXPAND", handle_expand },
	{ AUTH_USER_REQ, "USER", handle_user },
	{ AUTH_SITE_LOGIN_REQ, "SITE_LOGIN", handle_site_login },
	{ AUTH_ADDRESSES_REQ, "ADDRESSES", handle_addresses },
	{ AUTH_ROUTE_REQ, "ROUTE", handle_route },
};

const char *conn_peer(const struct conn *c)
{
	return c->peer;
}

static void conn_free(struct conn *c)
{
	for (struct conn_job *j = c->jobs; j; j = j->next)
		j->c = NULL;	/* finishes later without us */
	while (c->delayed) {
		struct delayed *d = c->delayed;
		c->delayed = d->next;
		event_free(d->ev);
		ipc_msg_free(&d->msg);
		free(d);
	}
	event_free(c->rev);
	event_free(c->wev);
	ipc_conn_close(&c->ic);
	if (c->prev)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c);
	authd.nconns--;
	if (draining && authd.nconns == 0) {
		log_info("reload: every request answered; exiting");
		event_base_loopbreak(authd.base);
	}
}

/* While draining, a connection goes once it has nothing in flight and nothing
 * left to write: its client reconnects by path, to the new authd. */
static void conn_maybe_done(struct conn *c)
{
	if (draining && c->npending == 0 && c->ic.out.len == 0)
		conn_free(c);
}

static void write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	int r = ipc_conn_flush(&c->ic);
	if (r < 0) {
		log_info("disconnect: %s (write: %s)", c->peer, strerror(errno));
		conn_free(c);
	} else if (r == 0) {
		event_add(c->wev, NULL);
	} else {
		conn_maybe_done(c);
	}
}

void conn_reply(struct conn *c, struct ipc_msg *res)
{
	ipc_conn_queue(&c->ic, res);
	ipc_msg_free(res);
	if (c->ic.out.len - c->ic.out_off > CONN_MAX_OUT)
		c->broken = true;	/* the client does not read its replies */
	event_add(c->wev, NULL);
}

static void delayed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct delayed *d = arg;
	struct conn *c = d->c;
	if (d->prev)
		d->prev->next = d->next;
	else
		c->delayed = d->next;
	if (d->next)
		d->next->prev = d->prev;
	c->npending--;
	event_free(d->ev);
	conn_reply(c, &d->msg);
	free(d);
	conn_settle(c);
}

bool conn_job_add(struct conn *c, struct conn_job *j)
{
	if (c->npending >= authd.max_pending) {
		log_warn("disconnect: %s (more than %u requests in flight)", c->peer, authd.max_pending);
		c->broken = true;
		return false;
	}
	j->c = c;
	j->prev = NULL;
	j->next = c->jobs;
	if (j->next)
		j->next->prev = j;
	c->jobs = j;
	c->npending++;
	return true;
}

struct conn *conn_job_finish(struct conn_job *j)
{
	struct conn *c = j->c;
	if (!c)
		return NULL;
	if (j->prev)
		j->prev->next = j->next;
	else
		c->jobs = j->next;
	if (j->next)
		j->next->prev = j->prev;
	c->npending--;
	j->c = NULL;
	return c;
}

void conn_settle(struct conn *c)
{
	if (c->broken) {
		log_warn("disconnect: %s (replies not read)", c->peer);
		conn_free(c);
	}
}

void conn_abort(struct conn *c, const char *why)
{
	log_err("closing the connection of %s: %s", c->peer, why);
	c->broken = true;
}

void conn_reply_later(struct conn *c, struct ipc_msg *res, uint64_t delay_ms)
{
	if (delay_ms == 0) {
		conn_reply(c, res);
		return;
	}
	if (c->npending >= authd.max_pending) {
		/* Hundreds of failed logins in flight on one connection: not a daemon. */
		log_warn("disconnect: %s (more than %u requests in flight)", c->peer, authd.max_pending);
		ipc_msg_free(res);
		c->broken = true;
		return;
	}
	struct delayed *d = xcalloc(1, sizeof *d);
	struct timeval tv = { (time_t)(delay_ms / 1000), (suseconds_t)(delay_ms % 1000) * 1000 };
	d->c = c;
	d->msg = *res;
	d->ev = evtimer_new(authd.base, delayed_cb, d);
	if (!d->ev)
		fatal("evtimer_new");
	d->next = c->delayed;
	if (d->next)
		d->next->prev = d;
	c->delayed = d;
	c->npending++;
	evtimer_add(d->ev, &tv);
}

/* Dispatch one request; false if the connection must be closed. */
static bool dispatch(struct conn *c, struct ipc_msg *m)
{
	for (size_t i = 0; i < ARRAY_LEN(handlers); i++) {
		if (handlers[i].type != m->hdr.type)
			continue;
		if (m->fd >= 0 || handlers[i].fn(c, m) < 0) {
			log_warn("malformed %s request from %s: closing the connection", handlers[i].name, c->peer);
			return false;
		}
		return true;
	}
	log_warn("unknown request type %u from %s: closing the connection", m->hdr.type, c->peer);
	return false;
}

static void read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct ipc_msg m;
	int r;
	if (ipc_conn_read(&c->ic) < 0) {
		log_info("disconnect: %s (read: %s)", c->peer, strerror(errno));
		conn_free(c);
		return;
	}
	while (!c->broken && (r = ipc_conn_next(&c->ic, &m)) != 0) {
		if (r < 0) {
			log_warn("malformed message from %s: closing the connection", c->peer);
			conn_free(c);
			return;
		}
		bool ok = dispatch(c, &m);
		ipc_msg_free(&m);	/* sensitive (the connection's): wiped */
		if (!ok) {
			conn_free(c);
			return;
		}
	}
	if (c->broken || c->ic.eof) {
		/* At EOF, replies still delayed are dropped: nobody waits for them. */
		conn_free(c);
		return;
	}
	conn_maybe_done(c);
}

static void accept_cb(int s, struct sockaddr *sa, int salen, void *arg)
{
	unsigned uid;
	int pid;
	if (ipc_peer_uid(s, &uid, &pid) < 0 || !peer_allowed((uid_t)uid)) {
		log_warn("refused connection from uid=%u pid=%d: not an account of this instance", uid, pid);
		close(s);
		return;
	}
	if (authd.nconns >= authd.max_conns) {
		log_warn("refused connection from uid=%u pid=%d: max_connections (%u) reached",
			 uid, pid, authd.max_conns);
		close(s);
		return;
	}
	struct conn *c = xcalloc(1, sizeof *c);
	ipc_conn_init(&c->ic, s);
	ipc_conn_sensitive(&c->ic);	/* passwords in, login tokens out */
	snprintf(c->peer, sizeof c->peer, "uid=%u pid=%d", uid, pid);
	c->rev = event_new(authd.base, s, EV_READ | EV_PERSIST, read_cb, c);
	c->wev = event_new(authd.base, s, EV_WRITE, write_cb, c);
	if (!c->rev || !c->wev)
		fatal("event_new");
	authd.nconns++;
	c->next = conns;
	if (conns)
		conns->prev = c;
	conns = c;
	event_add(c->rev, NULL);
	log_debug("connect: %s", c->peer);
}

void server_start(int fd)
{
	fd_nonblock(fd);
	listen_lis = listener_new(authd.base, fd, "auth.sock", accept_cb, NULL);
}

static void drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	log_warn("reload: %u connection(s) still busy after %d s; exiting anyway", authd.nconns, DRAIN_MAX_S);
	event_base_loopbreak(authd.base);
}

void server_drain(void)
{
	struct timeval tv = { DRAIN_MAX_S, 0 };
	if (draining)
		return;
	draining = true;
	log_info("reload: a new authd serves new connections; finishing %u connection(s)", authd.nconns);
	listener_free(listen_lis);	/* closes the socket */
	listen_lis = NULL;
	if (authd.nconns == 0) {
		event_base_loopbreak(authd.base);
		return;
	}
	drain_timer = evtimer_new(authd.base, drain_timeout, NULL);
	if (drain_timer)
		evtimer_add(drain_timer, &tv);
	/* Read what each client may already have sent, then let idle ones go. */
	for (struct conn *c = conns; c; c = c->next)
		event_active(c->rev, EV_READ, 0);
}
