/* handoff.c — the login role passes a logged-in connection to the mail role
 * (RUN/pop3-mail.sock): the raw client socket when there is no TLS, else one
 * end of a socketpair, the login process relaying TLS bytes to and from it. */
#include "pop3d/login.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HANDOFF_TIMEOUT 30		/* seconds for the mail role to answer */
#define PROXY_MAX (256 * 1024)		/* bytes buffered per direction */

struct handoff {
	struct lsess *s;
	struct ipc_conn conn;
	struct event *ev;
	int keep;		/* our end of the socketpair (TLS), or -1 */
	size_t pending;		/* pipelined bytes sent along */
};

void handoff_free(struct handoff *h)
{
	if (h->ev)
		event_free(h->ev);
	ipc_conn_close(&h->conn);
	if (h->keep >= 0)
		close(h->keep);
	h->s->ho = NULL;
	free(h);
}

static void handoff_fail(struct lsess *s, const char *why)
{
	log_warn("pop3 login: ip=%s user=%s hand-off failed: %s", s->ip, s->canon, why);
	if (s->ho)
		handoff_free(s->ho);
	free(s->canon);
	s->canon = NULL;
	OPENSSL_cleanse(s->token, strlen(s->token));
	free(s->token);
	s->token = NULL;
	s->st = LS_CMD;
	lsess_reply(s, "-ERR [SYS/TEMP] Mailbox unavailable, try again later");
	lsess_resume(s);
}

static void on_inner_read(struct bufferevent *bev, void *arg);
static void on_inner_write(struct bufferevent *bev, void *arg);
static void on_inner_event(struct bufferevent *bev, short what, void *arg);

static void handoff_done(struct lsess *s)
{
	struct handoff *h = s->ho;
	evbuffer_drain(bufferevent_get_input(s->bev), h->pending);
	if (!s->tls) {
		/* The session process has the socket now; ours is just a copy. */
		handoff_free(h);
		lsess_free(s, NULL);
		return;
	}
	int fd = h->keep;
	h->keep = -1;
	handoff_free(h);
	struct bufferevent *inner = bufferevent_socket_new(s->L->base, fd,
		BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (!inner) {
		close(fd);
		lsess_free(s, "out of memory");
		return;
	}
	lsess_proxy(s, inner);
}

static void on_handoff_io(evutil_socket_t fd, short what, void *arg)
{
	struct handoff *h = arg;
	struct lsess *s = h->s;
	if (what & EV_TIMEOUT)
		return handoff_fail(s, "mail role did not answer");
	if ((what & EV_WRITE) && ipc_conn_flush(&h->conn) < 0)
		return handoff_fail(s, strerror(errno));
	if (what & EV_READ) {
		if (ipc_conn_read(&h->conn) < 0)
			return handoff_fail(s, strerror(errno));
		struct ipc_msg m;
		int r = ipc_conn_next(&h->conn, &m);
		if (r == 0 && !h->conn.eof)
			return;
		if (r <= 0)
			return handoff_fail(s, "mail role closed the connection");
		uint32_t st = ipc_get_u32(&m);
		bool ok = m.hdr.type == POP3_HANDOFF_RES && ipc_end(&m);
		ipc_msg_free(&m);
		if (!ok)
			return handoff_fail(s, "malformed answer");
		if (st != HANDOFF_OK)
			return handoff_fail(s, st == HANDOFF_DENIED ? "token refused" : "temporary failure");
		handoff_done(s);
	}
}

/* The fd the session process gets, and (TLS) the end we keep. */
static int session_fd(struct lsess *s, int *keep)
{
	*keep = -1;
	if (!s->tls)
		return fcntl(bufferevent_getfd(s->bev), F_DUPFD_CLOEXEC, 3);
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return -1;
	*keep = sp[0];
	return sp[1];
}

void handoff_start(struct lsess *s)
{
	s->st = LS_HANDOFF;
	int sock = ipc_connect(s->L->mail_sock);
	if (sock < 0)
		return handoff_fail(s, strerror(errno));
	fd_nonblock(sock);
	struct handoff *h = xcalloc(1, sizeof *h);
	h->s = s;
	s->ho = h;
	ipc_conn_init(&h->conn, sock);
	int fd = session_fd(s, &h->keep);
	if (fd < 0)
		return handoff_fail(s, strerror(errno));
	struct evbuffer *in = bufferevent_get_input(s->bev);
	h->pending = evbuffer_get_length(in);
	if (h->pending > LOGIN_HANDOFF_PENDING_MAX)
		h->pending = LOGIN_HANDOFF_PENDING_MAX;
	unsigned char *pend = xmalloc(h->pending + 1);
	evbuffer_copyout(in, pend, h->pending);
	struct ipc_msg m;
	ipc_msg_init(&m, POP3_HANDOFF_REQ, 1);
	login_handoff_put(&m, &(struct login_handoff){ .user = s->canon, .token = s->token,
		.ip = s->ip, .flags = s->tls ? LOGIN_HF_TLS : 0, .pending = pend,
		.npending = h->pending, .fd = fd });
	ipc_conn_queue(&h->conn, &m);
	ipc_msg_free(&m);	/* sensitive (login_handoff_put): wiped */
	free(pend);
	struct timeval tv = { HANDOFF_TIMEOUT, 0 };
	h->ev = event_new(s->L->base, sock, EV_READ | EV_WRITE | EV_PERSIST, on_handoff_io, h);
	event_add(h->ev, &tv);
}

/* ---- relay: client (s->bev) <-> session process or mailbox host (s->inner) ---- */

void lsess_proxy(struct lsess *s, struct bufferevent *inner)
{
	event_del(s->login_timer);
	s->inner = inner;
	s->st = LS_PROXY;
	/* The session (here or on the mailbox host) keeps the idle timer; we
	 * only guard against a client that stops reading. */
	struct timeval idle = { s->L->conf->idle_timeout, 0 };
	bufferevent_set_timeouts(s->bev, NULL, &idle);
	bufferevent_set_timeouts(inner, NULL, NULL);
	bufferevent_setwatermark(s->bev, EV_READ, 0, PROXY_MAX);
	bufferevent_setcb(inner, on_inner_read, on_inner_write, on_inner_event, s);
	bufferevent_enable(inner, EV_READ | EV_WRITE);
	bufferevent_enable(s->bev, EV_READ);
	proxy_client_read(s);
	if (evbuffer_get_length(bufferevent_get_input(inner)))
		on_inner_read(inner, s);
}

void proxy_client_read(struct lsess *s)
{
	struct evbuffer *to = bufferevent_get_output(s->inner);
	evbuffer_add_buffer(to, bufferevent_get_input(s->bev));
	if (evbuffer_get_length(to) >= PROXY_MAX)
		bufferevent_disable(s->bev, EV_READ);
}

void proxy_client_drained(struct lsess *s)
{
	if (s->inner)
		bufferevent_enable(s->inner, EV_READ);
}

static void on_inner_read(struct bufferevent *bev, void *arg)
{
	struct lsess *s = arg;
	struct evbuffer *to = bufferevent_get_output(s->bev);
	evbuffer_add_buffer(to, bufferevent_get_input(bev));
	if (evbuffer_get_length(to) >= PROXY_MAX)
		bufferevent_disable(bev, EV_READ);
}

static void on_inner_write(struct bufferevent *bev, void *arg)
{
	struct lsess *s = arg;
	if (s->st == LS_PROXY && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		bufferevent_enable(s->bev, EV_READ);
}

static void on_inner_event(struct bufferevent *bev, short what, void *arg)
{
	struct lsess *s = arg;
	/* The session process ended: pass on what it wrote last, then close. */
	evbuffer_add_buffer(bufferevent_get_output(s->bev), bufferevent_get_input(bev));
	bufferevent_free(bev);
	s->inner = NULL;
	lsess_close(s, NULL);
}
