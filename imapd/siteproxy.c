/* siteproxy.c — a login at a front-end (or at another mailbox host) whose
 * user is stored on another host of the site (docs/SCALING.md): after authd
 * accepted the password and named the user's mailbox host, the login role
 * connects to that host's IMAP port, passes the client's address (ID
 * "x-originating-ip", which the mailbox host believes only from
 * site_frontends), logs in as the user with the site secret (AUTHENTICATE
 * PLAIN, authzid the user, authcid "site"), answers the client's login with
 * the mailbox host's tagged OK, and from then on only copies bytes both ways
 * (handoff.c's proxy): the user's session is never parsed here. With
 * site_tls = verify the first thing said is STARTTLS (on the host's plain
 * IMAP port), and nothing of the login crosses before the host's certificate
 * verified against site_ca_file (common/site_link.c). */
#include "imapd/imapd.h"
#include "imapd/login.h"
#include "common/log.h"
#include "common/sasl.h"
#include "common/site.h"
#include "common/site_link.h"
#include "common/util.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdlib.h>
#include <string.h>

#define UP_LINE_MAX 8192	/* a greeting or reply line of the mailbox host */
#define UP_TIMEOUT_S 15		/* to connect, greet and log in */

enum up_step { UP_GREETING, UP_STARTTLS, UP_HANDSHAKE, UP_LOGIN };

struct upstream {
	struct lclient *c;
	struct bufferevent *bev;
	const struct site_host *h;
	enum up_step step;
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
	u->step = UP_LOGIN;
}

/* Logged in there: the client gets the mailbox host's OK under its own tag
 * (with the capabilities of the session that now serves it), then bytes. */
static void up_done(struct upstream *u, const char *ok)
{
	struct lclient *c = u->c;
	struct bufferevent *bev = u->bev;
	log_info("imap login: user=%s client=%s tls=%s proxy=%s%s", u->user, c->ip,
		 c->tls ? "yes" : "no", u->h->name,
		 login_ctx()->site_tls_ctx ? " proxy_tls=verified" : "");
	u->bev = NULL;
	site_proxy_cancel(c);
	evbuffer_add_printf(bufferevent_get_output(c->bev), "%s %s\r\n", c->tag, ok);
	login_splice(c, bev);
}

static void up_read(struct bufferevent *bev, void *arg);
static void up_event(struct bufferevent *bev, short what, void *arg);

/* One line of the mailbox host's greeting or of its replies; false once
 * the lines of this bufferevent are done with (spliced, failed, or TLS). */
static bool up_line(struct upstream *u, const char *line)
{
	char why[200];
	SSL_CTX *tls = login_ctx()->site_tls_ctx;
	switch (u->step) {
	case UP_GREETING:
		if (strncmp(line, "* OK", 4)) {
			up_fail(u, "no greeting");
			return false;
		}
		if (tls) {
			evbuffer_add_printf(bufferevent_get_output(u->bev), "p0 STARTTLS\r\n");
			u->step = UP_STARTTLS;
		} else {
			send_login(u);
		}
		return true;
	case UP_STARTTLS:
		if (!strncmp(line, "* ", 2))
			return true;
		if (strncmp(line, "p0 OK", 5)) {
			snprintf(why, sizeof why, "STARTTLS refused (site_tls = verify): %.120s", line);
			up_fail(u, why);
			return false;
		}
		struct bufferevent *t = site_link_starttls(u->bev, tls, u->h, up_read, up_event, u,
							   UP_TIMEOUT_S, why, sizeof why);
		if (!t) {
			up_fail(u, why);
			return false;
		}
		u->bev = t;
		u->step = UP_HANDSHAKE;
		return false;
	case UP_HANDSHAKE:
		up_fail(u, "spoke before the TLS handshake ended");
		return false;
	case UP_LOGIN:
		break;
	}
	if (!strncmp(line, "* ", 2) || !strncmp(line, "p1 ", 3))
		return true;		/* the ID reply */
	if (!strncmp(line, "p2 OK", 5)) {
		up_done(u, line + 3);
		return false;
	}
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
	char why[200] = "";
	if (what & BEV_EVENT_CONNECTED) {
		if (u->step == UP_HANDSHAKE)	/* verified: the login may cross now */
			send_login(u);
		return;
	}
	if (u->step == UP_HANDSHAKE)
		site_link_tls_error(bev, why, sizeof why);
	if (!why[0])
		snprintf(why, sizeof why, "%s", what & BEV_EVENT_TIMEOUT ? "timeout"
			 : (what & BEV_EVENT_EOF) ? "closed" : "cannot connect");
	up_fail(u, why);
}

int site_proxy_start(struct lclient *c, const char *user, const char *host)
{
	const struct login_ctx *L = login_ctx();
	const struct site_host *h = L->site.nhosts ? site_find(&L->site, host) : NULL;
	struct sockaddr_storage ss;
	if (!strcmp(host, SITE_HOLD_HOST)) {
		log_info("imap proxy: user=%s client=%s: being moved to another mailbox host: try "
			 "later", user, c->ip);
		return -1;
	}
	if (!h || !site_service_sockaddr(h, SITE_PORT_IMAP, &ss) || !L->site_secret[0]) {
		log_err("imap proxy: user=%s client=%s: mailbox host %s is not in mailbox_hosts%s",
			user, c->ip, host, L->site_secret[0] ? "" : " or no site_secret_file");
		return -1;
	}
	struct upstream *u = xcalloc(1, sizeof *u);
	u->c = c;
	u->h = h;
	u->user = xstrdup(user);
	u->bev = site_link_connect(L->base, h, SITE_PORT_IMAP, up_read, up_event, u, UP_TIMEOUT_S);
	if (!u->bev) {
		log_err("imap proxy: user=%s: cannot connect to %s", user, h->addr);
		up_free(u);
		return -1;
	}
	c->up = u;
	return 0;
}
