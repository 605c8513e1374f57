/* siteproxy.c — a login at a front-end (or at another mailbox host) whose
 * user is stored on another host of the site (docs/SCALING.md): after authd
 * accepted the password and named the user's mailbox host, the login role
 * connects to that host's IMAP port, passes the client's address (ID
 * "x-originating-ip", which the mailbox host believes only from
 * site_frontends), logs in as the user with the site secret (AUTHENTICATE
 * PLAIN, authzid the user, authcid "site"), answers the client's login with
 * the mailbox host's tagged OK, and from then on only copies bytes both ways
 * (handoff.c's proxy): the user's session is never parsed here. */
#include "imapd/imapd.h"
#include "imapd/login.h"
#include "common/log.h"
#include "common/sasl.h"
#include "common/site.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdlib.h>
#include <string.h>

#define UP_LINE_MAX 8192	/* a greeting or reply line of the mailbox host */
#define UP_TIMEOUT_S 15		/* to connect, greet and log in */

struct upstream {
	struct lclient *c;
	struct bufferevent *bev;
	const struct site_host *h;
	bool greeted;
	char *user;
};

static void up_free(struct upstream *u)
{
	if (u->bev)
		bufferevent_free(u->bev);
	free(u->user);
	free(u);
}

void site_proxy_cancel(struct lclient *c)
{
	if (c->up)
		up_free(c->up);
	c->up = NULL;
}

/* The login ends without a session: the client hears it and may try again. */
static void up_fail(struct upstream *u, const char *why)
{
	struct lclient *c = u->c;
	log_warn("imap proxy: user=%s host=%s %s:%u client=%s failed: %s", u->user, u->h->name,
		 u->h->addr, (unsigned)site_service_port(u->h, SITE_PORT_IMAP), c->ip, why);
	site_proxy_cancel(c);
	login_auth_unavailable(c, "Mailbox host unavailable, try later");
}

static void send_login(struct upstream *u)
{
	char *b64 = sasl_plain_site_encode(u->user, login_ctx()->site_secret);
	struct evbuffer *out = bufferevent_get_output(u->bev);
	evbuffer_add_printf(out, "p1 ID (\"x-originating-ip\" \"%s\")\r\n", u->c->ip);
	evbuffer_add_printf(out, "p2 AUTHENTICATE PLAIN %s\r\n", b64);
	explicit_bzero(b64, strlen(b64));
	free(b64);
}

/* Logged in there: the client gets the mailbox host's OK under its own tag
 * (with the capabilities of the session that now serves it), then bytes. */
static void up_done(struct upstream *u, const char *ok)
{
	struct lclient *c = u->c;
	struct bufferevent *bev = u->bev;
	log_info("imap login: user=%s client=%s tls=%s proxy=%s", u->user, c->ip,
		 c->tls ? "yes" : "no", u->h->name);
	u->bev = NULL;
	site_proxy_cancel(c);
	evbuffer_add_printf(bufferevent_get_output(c->bev), "%s %s\r\n", c->tag, ok);
	login_splice(c, bev);
}

/* One line of the mailbox host's greeting or of its replies to the login. */
static bool up_line(struct upstream *u, const char *line)
{
	if (!u->greeted) {
		if (strncmp(line, "* OK", 4)) {
			up_fail(u, "no greeting");
			return false;
		}
		u->greeted = true;
		send_login(u);
		return true;
	}
	if (!strncmp(line, "* ", 2) || !strncmp(line, "p1 ", 3))
		return true;		/* the ID reply */
	if (!strncmp(line, "p2 OK", 5)) {
		up_done(u, line + 3);
		return false;
	}
	char why[160];
	snprintf(why, sizeof why, "login refused: %.120s", line);
	up_fail(u, why);
	return false;
}

static void up_read(struct bufferevent *bev, void *arg)
{
	struct upstream *u = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n;
	char *line;
	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF))) {
		bool more = up_line(u, line);
		free(line);
		if (!more)
			return;
	}
	if (evbuffer_get_length(in) > UP_LINE_MAX)
		up_fail(u, "reply line too long");
}

static void up_event(struct bufferevent *bev, short what, void *arg)
{
	struct upstream *u = arg;
	if (what & BEV_EVENT_CONNECTED)
		return;
	up_fail(u, what & BEV_EVENT_TIMEOUT ? "timeout" : (what & BEV_EVENT_EOF) ? "closed"
										 : "cannot connect");
}

int site_proxy_start(struct lclient *c, const char *user, const char *host)
{
	const struct login_ctx *L = login_ctx();
	const struct site_host *h = L->site.nhosts ? site_find(&L->site, host) : NULL;
	struct sockaddr_storage ss;
	socklen_t sslen = h ? site_service_sockaddr(h, SITE_PORT_IMAP, &ss) : 0;
	if (!sslen || !L->site_secret[0]) {
		log_err("imap proxy: user=%s client=%s: mailbox host %s is not in mailbox_hosts%s",
			user, c->ip, host, L->site_secret[0] ? "" : " or no site_secret_file");
		return -1;
	}
	struct upstream *u = xcalloc(1, sizeof *u);
	u->c = c;
	u->h = h;
	u->user = xstrdup(user);
	u->bev = bufferevent_socket_new(L->base, -1, BEV_OPT_CLOSE_ON_FREE);
	c->up = u;
	bufferevent_setcb(u->bev, up_read, NULL, up_event, u);
	struct timeval tv = { UP_TIMEOUT_S, 0 };
	bufferevent_set_timeouts(u->bev, &tv, &tv);
	bufferevent_enable(u->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(u->bev, (struct sockaddr *)&ss, (int)sslen) < 0) {
		log_err("imap proxy: user=%s: cannot connect to %s", user, h->addr);
		site_proxy_cancel(c);
		return -1;
	}
	return 0;
}
