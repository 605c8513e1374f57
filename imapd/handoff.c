/* handoff.c — passing an authenticated connection to the mail role, and the
 * TLS proxy that stays in the login process when the session is encrypted
 * (the mail role never holds the TLS keys). */
#include "imapd/imapd.h"
#include "imapd/login.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/login_handoff.h"
#include "common/util.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROXY_HIGH_WATER (256 * 1024)

struct proxy {
	struct bufferevent *client, *mail;
};

void login_proxy_count(int delta)
{
	struct login_ctx *L = (struct login_ctx *)login_ctx();
	L->nproxies = (uint64_t)((int64_t)L->nproxies + delta);
}

static void proxy_free(struct proxy *p)
{
	bufferevent_free(p->client);
	bufferevent_free(p->mail);
	free(p);
	login_proxy_count(-1);
}

static void proxy_read(struct bufferevent *from, void *arg)
{
	struct proxy *p = arg;
	struct bufferevent *to = from == p->client ? p->mail : p->client;
	evbuffer_add_buffer(bufferevent_get_output(to), bufferevent_get_input(from));
	/* back-pressure: stop reading while the other side is slow */
	if (evbuffer_get_length(bufferevent_get_output(to)) > PROXY_HIGH_WATER)
		bufferevent_disable(from, EV_READ);
}

static void proxy_write(struct bufferevent *to, void *arg)
{
	struct proxy *p = arg;
	struct bufferevent *from = to == p->client ? p->mail : p->client;
	if (evbuffer_get_length(bufferevent_get_output(to)) < PROXY_HIGH_WATER / 2)
		bufferevent_enable(from, EV_READ);
}

static void proxy_flush_close(struct bufferevent *bev, void *arg)
{
	struct proxy *p = arg;
	if (evbuffer_get_length(bufferevent_get_output(p->client)) == 0)
		proxy_free(p);
}

static void proxy_event(struct bufferevent *bev, short what, void *arg)
{
	struct proxy *p = arg;
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (bev == p->mail && evbuffer_get_length(bufferevent_get_output(p->client))) {
		/* the session ended (LOGOUT): deliver its last words first */
		bufferevent_disable(p->mail, EV_READ);
		bufferevent_setcb(p->client, NULL, proxy_flush_close, proxy_event, p);
		return;
	}
	proxy_free(p);
}

static int send_handoff(struct lclient *c, const char *user, const char *token, int fd,
			struct evbuffer *pending)
{
	const struct login_ctx *L = login_ctx();
	char *path = xasprintf("%s/%s", L->run_prefix, IMAP_MAIL_SOCK);
	int s = ipc_connect(path);
	if (s < 0) {
		log_err("imap: cannot reach the mail role at %s", path);
		free(path);
		close(fd);
		return -1;
	}
	free(path);
	size_t n = pending ? evbuffer_get_length(pending) : 0;
	if (n > LOGIN_HANDOFF_PENDING_MAX)
		n = LOGIN_HANDOFF_PENDING_MAX;
	struct ipc_msg m;
	ipc_msg_init(&m, IMAP_HANDOFF, 1);
	login_handoff_put(&m, &(struct login_handoff){ .user = user, .token = token, .tag = c->tag,
		.ip = c->ip, .flags = c->tls ? LOGIN_HF_TLS : 0,
		.pending = n ? evbuffer_pullup(pending, (ssize_t)n) : NULL, .npending = n, .fd = fd });
	if (pending)
		evbuffer_drain(pending, n);
	int r = ipc_send(s, &m);
	ipc_msg_free(&m);
	close(s);
	return r;
}

static int handoff_tls(struct lclient *c, const char *user, const char *token)
{
	const struct login_ctx *L = login_ctx();
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return -1;
	if (send_handoff(c, user, token, sp[1], NULL) < 0) {
		close(sp[0]);
		return -1;
	}
	fd_nonblock(sp[0]);
	login_splice(c, bufferevent_socket_new(L->base, sp[0], BEV_OPT_CLOSE_ON_FREE));
	return 0;
}

void login_splice(struct lclient *c, struct bufferevent *other)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct proxy *p = xcalloc(1, sizeof *p);
	p->client = c->bev;
	p->mail = other;
	c->bev = NULL;
	/* bytes the client pipelined after the login go on to the session */
	evbuffer_add_buffer(bufferevent_get_output(p->mail), in);
	bufferevent_setcb(p->client, proxy_read, proxy_write, proxy_event, p);
	bufferevent_setcb(p->mail, proxy_read, proxy_write, proxy_event, p);
	/* the session times out, not us */
	bufferevent_set_timeouts(p->client, NULL, NULL);
	bufferevent_set_timeouts(p->mail, NULL, NULL);
	bufferevent_enable(p->client, EV_READ | EV_WRITE);
	bufferevent_enable(p->mail, EV_READ | EV_WRITE);
	login_proxy_count(1);
	lclient_free(c);
}

int handoff(struct lclient *c, const char *user, const char *token)
{
	if (c->tls)
		return handoff_tls(c, user, token);
	int fd = dup(c->fd);
	if (fd < 0)
		return -1;
	fd_cloexec(fd);
	if (send_handoff(c, user, token, fd, bufferevent_get_input(c->bev)) < 0)
		return -1;
	lclient_free(c);	/* closes our copy of the socket */
	return 0;
}
