/* authc.c — the login role's client of the auth service. */
#include "pop3d/authc.h"
#include "common/auth_proto.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct req {
	struct req *next;
	uint32_t id;
	uint64_t deadline;
	authc_cb cb;
	void *arg;
};

struct authc {
	struct event_base *base;
	char *path;
	unsigned timeout_s;
	struct ipc_conn conn;
	bool connected;
	struct event *ev;	/* read/write on conn.sock */
	struct event *timer;	/* request timeouts */
	struct req *reqs;
	uint32_t next_id;
};

static void fail_all(struct authc *a);

static void disconnect(struct authc *a)
{
	if (a->ev) {
		event_free(a->ev);
		a->ev = NULL;
	}
	if (a->connected)
		ipc_conn_close(&a->conn);
	a->connected = false;
}

static struct req *take(struct authc *a, uint32_t id)
{
	for (struct req **p = &a->reqs; *p; p = &(*p)->next) {
		if ((*p)->id == id) {
			struct req *r = *p;
			*p = r->next;
			return r;
		}
	}
	return NULL;
}

static void dispatch(struct authc *a, struct ipc_msg *m)
{
	struct req *r = take(a, m->hdr.id);
	if (!r)
		return;		/* cancelled */
	uint32_t res = ipc_get_u32(m);
	const char *user = ipc_get_str(m, AUTH_MAX_FIELD);
	const char *token = ipc_get_str(m, AUTH_MAX_FIELD);
	if (m->hdr.type != AUTH_LOGIN_RES || !ipc_end(m) || res > AUTH_LOCKED) {
		log_warn("auth: malformed reply from authd");
		res = AUTH_TEMPFAIL;
		user = token = "";
	}
	r->cb(r->arg, (int)res, user, token);
	free(r);
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
	struct authc *a = arg;
	if (what & EV_WRITE) {
		int f = ipc_conn_flush(&a->conn);
		if (f < 0)
			goto broken;
		if (f == 1) {
			event_del(a->ev);
			event_assign(a->ev, a->base, fd, EV_READ | EV_PERSIST, on_io, a);
			event_add(a->ev, NULL);
		}
	}
	if (what & EV_READ) {
		if (ipc_conn_read(&a->conn) < 0)
			goto broken;
		struct ipc_msg m;
		int r;
		while ((r = ipc_conn_next(&a->conn, &m)) == 1) {
			dispatch(a, &m);
			ipc_msg_free(&m);
		}
		if (r < 0 || a->conn.eof)
			goto broken;
	}
	return;
broken:
	log_warn("auth: lost connection to authd");
	disconnect(a);
	fail_all(a);
}

static void watch(struct authc *a, bool want_write)
{
	if (a->ev)
		event_free(a->ev);
	a->ev = event_new(a->base, a->conn.sock, EV_READ | EV_PERSIST | (want_write ? EV_WRITE : 0),
			  on_io, a);
	event_add(a->ev, NULL);
}

static int ensure_connected(struct authc *a)
{
	if (a->connected)
		return 0;
	int s = ipc_connect(a->path);
	if (s < 0) {
		log_warn("auth: cannot connect to %s: %s", a->path, strerror(errno));
		return -1;
	}
	fd_nonblock(s);
	ipc_conn_init(&a->conn, s);
	a->connected = true;
	return 0;
}

static void fail_all(struct authc *a)
{
	struct req *r;
	while ((r = a->reqs)) {
		a->reqs = r->next;
		r->cb(r->arg, AUTH_TEMPFAIL, "", "");
		free(r);
	}
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct authc *a = arg;
	uint64_t now = now_ms();
	for (struct req **p = &a->reqs; *p;) {
		struct req *r = *p;
		if (r->deadline <= now) {
			*p = r->next;
			log_warn("auth: authd did not answer in %us", a->timeout_s);
			r->cb(r->arg, AUTH_TEMPFAIL, "", "");
			free(r);
		} else {
			p = &r->next;
		}
	}
}

struct authc *authc_new(struct event_base *base, const char *sock_path, unsigned timeout_s)
{
	struct authc *a = xcalloc(1, sizeof *a);
	a->base = base;
	a->path = xstrdup(sock_path);
	a->timeout_s = timeout_s;
	a->next_id = 1;
	a->timer = event_new(base, -1, EV_PERSIST, on_timer, a);
	struct timeval tv = { 1, 0 };
	event_add(a->timer, &tv);
	return a;
}

uint32_t authc_login(struct authc *a, const char *service, const char *user,
		     const char *password, const char *client_ip, authc_cb cb, void *arg)
{
	uint32_t id = a->next_id++;
	if (a->next_id == 0)
		a->next_id = 1;
	if (ensure_connected(a) < 0) {
		cb(arg, AUTH_TEMPFAIL, "", "");
		return id;
	}
	struct req *r = xcalloc(1, sizeof *r);
	r->id = id;
	r->deadline = now_ms() + (uint64_t)a->timeout_s * 1000;
	r->cb = cb;
	r->arg = arg;
	r->next = a->reqs;
	a->reqs = r;
	struct ipc_msg m;
	ipc_msg_init(&m, AUTH_LOGIN_REQ, id);
	ipc_put_str(&m, service);
	ipc_put_str(&m, user);
	ipc_put_str(&m, password);
	ipc_put_str(&m, client_ip);
	ipc_conn_queue(&a->conn, &m);
	OPENSSL_cleanse(m.data, m.hdr.len);	/* the password */
	ipc_msg_free(&m);
	watch(a, true);
	return id;
}

void authc_cancel(struct authc *a, uint32_t id)
{
	free(take(a, id));
}

void authc_free(struct authc *a)
{
	disconnect(a);
	fail_all(a);
	event_free(a->timer);
	free(a->path);
	free(a);
}
