/* authc.c — the login role's client of authd. */
#include "imapd/authc.h"
#include "common/auth_proto.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/util.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define AUTHC_MAX_PENDING 4096

struct pending {
	uint32_t id;
	authc_cb cb;
	void *arg;
};

struct authc {
	struct event_base *base;
	char *path;
	struct ipc_conn conn;
	bool connected;
	struct event *ev_read, *ev_write;
	uint32_t next_id;
	struct pending *p;
	size_t np;
};

struct authc *authc_new(struct event_base *base, const char *sock_path)
{
	struct authc *a = xcalloc(1, sizeof *a);
	a->base = base;
	a->path = xstrdup(sock_path);
	a->next_id = 1;
	return a;
}

static void fail_all(struct authc *a)
{
	struct pending *p = a->p;
	size_t n = a->np;
	a->p = NULL;
	a->np = 0;
	for (size_t i = 0; i < n; i++)
		if (p[i].cb)
			p[i].cb(p[i].arg, AUTH_TEMPFAIL, "", "");
	free(p);
}

static void disconnect(struct authc *a)
{
	if (!a->connected)
		return;
	event_free(a->ev_read);
	event_free(a->ev_write);
	ipc_conn_close(&a->conn);
	a->connected = false;
	fail_all(a);
}

static void deliver(struct authc *a, struct ipc_msg *m)
{
	uint32_t result = ipc_get_u32(m);
	const char *user = ipc_get_str(m, AUTH_MAX_FIELD);
	const char *token = ipc_get_str(m, AUTH_MAX_FIELD);
	if (m->hdr.type != AUTH_LOGIN_RES || !ipc_end(m)) {
		log_err("authd sent a malformed reply (type %u)", m->hdr.type);
		disconnect(a);
		return;
	}
	for (size_t i = 0; i < a->np; i++) {
		if (a->p[i].id != m->hdr.id)
			continue;
		struct pending p = a->p[i];
		a->p[i] = a->p[--a->np];
		if (p.cb)
			p.cb(p.arg, (int)result, user, token);
		return;
	}
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct authc *a = arg;
	if (ipc_conn_read(&a->conn) < 0) {
		disconnect(a);
		return;
	}
	struct ipc_msg m;
	int r;
	while (a->connected && (r = ipc_conn_next(&a->conn, &m)) == 1) {
		deliver(a, &m);
		ipc_msg_free(&m);
	}
	if (a->connected && (r < 0 || a->conn.eof)) {
		log_warn("connection to authd lost");
		disconnect(a);
	}
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	struct authc *a = arg;
	int r = ipc_conn_flush(&a->conn);
	if (r < 0)
		disconnect(a);
	else if (r == 0)
		event_add(a->ev_write, NULL);
}

struct later {
	struct authc *a;
	uint32_t id;
	authc_cb cb;
	void *arg;
};

/* Fail one request from the event loop, unless it was cancelled meanwhile. */
static void fail_later(evutil_socket_t fd, short what, void *arg)
{
	struct later *l = arg;
	struct authc *a = l->a;
	for (size_t i = 0; i < a->np; i++) {
		if (a->p[i].id != l->id)
			continue;
		struct pending p = a->p[i];
		a->p[i] = a->p[--a->np];
		if (p.cb)
			p.cb(p.arg, AUTH_TEMPFAIL, "", "");
		break;
	}
	free(l);
}

static bool ensure_connected(struct authc *a)
{
	if (a->connected)
		return true;
	int s = ipc_connect(a->path);
	if (s < 0) {
		log_err("cannot connect to authd at %s", a->path);
		return false;
	}
	fd_nonblock(s);
	ipc_conn_init(&a->conn, s);
	a->ev_read = event_new(a->base, s, EV_READ | EV_PERSIST, on_read, a);
	a->ev_write = event_new(a->base, s, EV_WRITE, on_write, a);
	event_add(a->ev_read, NULL);
	a->connected = true;
	return true;
}

uint32_t authc_login(struct authc *a, const char *service, const char *user, const char *pass,
		     const char *client_ip, authc_cb cb, void *arg)
{
	uint32_t id = a->next_id++;
	if (!a->next_id)
		a->next_id = 1;
	a->p = xrealloc(a->p, (a->np + 1) * sizeof *a->p);
	a->p[a->np++] = (struct pending){ id, cb, arg };
	if (a->np > AUTHC_MAX_PENDING || !ensure_connected(a)) {
		/* answered from the event loop, so callers see one code path */
		struct later *l = xmalloc(sizeof *l);
		l->a = a;
		l->id = id;
		l->cb = cb;
		l->arg = arg;
		event_base_once(a->base, -1, EV_TIMEOUT, fail_later, l, NULL);
		return id;
	}
	struct ipc_msg m;
	ipc_msg_init(&m, AUTH_LOGIN_REQ, id);
	ipc_put_str(&m, service);
	ipc_put_str(&m, user);
	ipc_put_str(&m, pass);
	ipc_put_str(&m, client_ip);
	ipc_conn_queue(&a->conn, &m);
	ipc_msg_free(&m);
	on_write(-1, 0, a);
	return id;
}

void authc_cancel(struct authc *a, uint32_t id)
{
	for (size_t i = 0; i < a->np; i++)
		if (a->p[i].id == id)
			a->p[i].cb = NULL;
}
