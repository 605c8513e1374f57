/* siteproxy.c — a POP3 login at a front-end whose user is stored on another
 * host of the site (docs/SCALING.md), as imapd/siteproxy.c does for IMAP:
 * after authd accepted the password and named the user's mailbox host, the
 * login role connects to that host's POP3 port, passes the client's address
 * (XCLIENT ADDR=, which the mailbox host believes only from site_frontends),
 * logs in as the user with the site secret (AUTH PLAIN, authzid the user,
 * authcid "site"), answers the client with the mailbox host's +OK and from
 * then on copies bytes both ways (handoff.c's relay): the session itself is
 * never parsed here. With site_tls = verify the first thing said is STLS (on
 * the host's plain POP3 port), and nothing of the login crosses before the
 * host's certificate verified against site_ca_file (common/site_link.c). */
#include "pop3d/login.h"
#include "common/log.h"
#include "common/sasl.h"
#include "common/site.h"
#include "common/site_link.h"
#include "common/util.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#define UP_LINE_MAX 1024	/* a greeting or reply line of the mailbox host */
#define UP_TIMEOUT_S 15		/* to connect, greet and log in */

enum up_step { UP_GREETING, UP_STLS, UP_HANDSHAKE, UP_XCLIENT, UP_AUTH };

struct pop3_upstream {
	struct lsess *s;
	struct bufferevent *bev;
	const struct site_host *h;
	enum up_step step;
	char *user;
};

void site_proxy_free(struct lsess *s)
{
	struct pop3_upstream *u = s->up;
	if (!u)
		return;
	if (u->bev)
		bufferevent_free(u->bev);
	free(u->user);
	free(u);
	s->up = NULL;
}

/* The login led nowhere: the client hears reply (or a temporary error) and
 * may try again; the front-end's log says why. */
static void up_fail(struct pop3_upstream *u, const char *why, const char *reply)
{
	struct lsess *s = u->s;
	log_warn("pop3 proxy: user=%s host=%s %s:%u client=%s failed: %s", u->user, u->h->name,
		 u->h->addr, (unsigned)site_service_port(u->h, SITE_PORT_POP3), s->ip, why);
	site_proxy_free(s);
	s->st = LS_CMD;
	lsess_reply(s, "%s", reply ? reply : "-ERR [SYS/TEMP] Mailbox host unavailable, try again later");
	lsess_resume(s);
}

static void send_auth(struct pop3_upstream *u)
{
	char *b64 = sasl_plain_site_encode(u->user, u->s->L->site_secret);
	evbuffer_add_printf(bufferevent_get_output(u->bev), "AUTH PLAIN %s\r\n", b64);
	OPENSSL_cleanse(b64, strlen(b64));
	free(b64);
}

/* Logged in there: the client gets the mailbox host's +OK (its session
 * process's "Logged in"), then bytes. */
static void up_done(struct pop3_upstream *u, const char *ok)
{
	struct lsess *s = u->s;
	struct bufferevent *bev = u->bev;
	log_info("pop3 login: ip=%s user=%s tls=%s proxy=%s%s", s->ip, u->user,
		 s->tls ? "yes" : "no", u->h->name, s->L->site_tls_ctx ? " proxy_tls=verified" : "");
	u->bev = NULL;
	site_proxy_free(s);
	lsess_reply(s, "%s", ok);
	lsess_proxy(s, bev);
}

/* A refusal the user can act on (the mailbox is in use, logins too
 * frequent) is passed on as the mailbox host says it; anything else is
 * the site's trouble, not the user's: a temporary error. */
static bool user_refusal(const char *line)
{
	return !strncmp(line, "-ERR [IN-USE]", 13) || !strncmp(line, "-ERR [LOGIN-DELAY]", 18);
}

static void up_read(struct bufferevent *bev, void *arg);
static void up_event(struct bufferevent *bev, short what, void *arg);

static void send_xclient(struct pop3_upstream *u)
{
	u->step = UP_XCLIENT;
	evbuffer_add_printf(bufferevent_get_output(u->bev), "XCLIENT ADDR=%s\r\n", u->s->ip);
}

/* One line of the mailbox host's greeting or of its replies; false once
 * the lines of this bufferevent are done with (spliced, failed, or TLS). */
static bool up_line(struct pop3_upstream *u, const char *line)
{
	bool ok = !strncmp(line, "+OK", 3);
	char why[200];
	SSL_CTX *tls = u->s->L->site_tls_ctx;
	if (ok && u->step == UP_GREETING) {
		if (!tls) {
			send_xclient(u);
			return true;
		}
		u->step = UP_STLS;
		evbuffer_add_printf(bufferevent_get_output(u->bev), "STLS\r\n");
		return true;
	}
	if (ok && u->step == UP_STLS) {
		struct bufferevent *t = site_link_starttls(u->bev, tls, u->h, up_read, up_event, u,
							   UP_TIMEOUT_S, why, sizeof why);
		if (!t) {
			up_fail(u, why, NULL);
			return false;
		}
		u->bev = t;
		u->step = UP_HANDSHAKE;
		return false;
	}
	if (u->step == UP_HANDSHAKE) {
		up_fail(u, "spoke before the TLS handshake ended", NULL);
		return false;
	}
	if (ok && u->step == UP_XCLIENT) {
		u->step = UP_AUTH;
		send_auth(u);
		return true;
	}
	if (ok) {
		up_done(u, line);
		return false;
	}
	snprintf(why, sizeof why, "%s: %.120s", u->step == UP_GREETING ? "no greeting"
		 : u->step == UP_STLS ? "STLS refused (site_tls = verify)"
		 : u->step == UP_XCLIENT ? "XCLIENT refused" : "login refused", line);
	up_fail(u, why, u->step == UP_AUTH && user_refusal(line) ? line : NULL);
	return false;
}

static void up_read(struct bufferevent *bev, void *arg)
{
	struct pop3_upstream *u = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t n;
	char *line;
	while ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF))) {
		bool more = n <= UP_LINE_MAX ? up_line(u, line) : (up_fail(u, "reply line too long", NULL), false);
		free(line);
		if (!more)
			return;
	}
	if (evbuffer_get_length(in) > UP_LINE_MAX)
		up_fail(u, "reply line too long", NULL);
}

static void up_event(struct bufferevent *bev, short what, void *arg)
{
	struct pop3_upstream *u = arg;
	char why[200] = "";
	if (what & BEV_EVENT_CONNECTED) {
		if (u->step == UP_HANDSHAKE)	/* verified: the login may cross now */
			send_xclient(u);
		return;
	}
	if (u->step == UP_HANDSHAKE)
		site_link_tls_error(bev, why, sizeof why);
	if (!why[0])
		snprintf(why, sizeof why, "%s", what & BEV_EVENT_TIMEOUT ? "timeout"
			 : (what & BEV_EVENT_EOF) ? "closed" : "cannot connect");
	up_fail(u, why, NULL);
}

int site_proxy_start(struct lsess *s, const char *user, const char *host)
{
	const struct login *L = s->L;
	const struct site_host *h = L->site.nhosts ? site_find(&L->site, host) : NULL;
	struct sockaddr_storage ss;
	if (!strcmp(host, SITE_HOLD_HOST)) {
		log_info("pop3 proxy: user=%s client=%s: being moved to another mailbox host: try "
			 "later", user, s->ip);
		return -1;
	}
	if (!h || !site_service_sockaddr(h, SITE_PORT_POP3, &ss) || !L->site_secret[0]) {
		log_err("pop3 proxy: user=%s client=%s: mailbox host %s is not in mailbox_hosts%s", user,
			s->ip, host, L->site_secret[0] ? "" : " or no site_secret_file");
		return -1;
	}
	struct pop3_upstream *u = xcalloc(1, sizeof *u);
	u->s = s;
	u->h = h;
	u->user = xstrdup(user);
	u->bev = site_link_connect(L->base, h, SITE_PORT_POP3, up_read, up_event, u, UP_TIMEOUT_S);
	s->up = u;
	if (!u->bev) {
		log_err("pop3 proxy: user=%s: cannot connect to %s", user, h->addr);
		site_proxy_free(s);
		return -1;
	}
	s->st = LS_UPSTREAM;
	return 0;
}
