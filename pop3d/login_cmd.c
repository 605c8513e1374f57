/* login_cmd.c — the AUTHORIZATION state: CAPA, STLS, USER/PASS, AUTH
 * (PLAIN, LOGIN), QUIT; the login check goes to authd. */
#include "pop3d/login.h"
#include "pop3d/pop3_cmd.h"
#include "common/sasl.h"
#include "common/auth_client.h"
#include "common/log.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void free_secret(char *p)
{
	if (p) {
		OPENSSL_cleanse(p, strlen(p));
		free(p);
	}
}

void lsess_greet(struct lsess *s)
{
	lsess_reply(s, "+OK %s POP3 server ready", s->L->hostname);
}

/* Logins are allowed over TLS, and without it only from plaintext_auth_networks
 * (RFC 2595 4: no plaintext passwords on the wire by default). */
static bool login_allowed(const struct lsess *s)
{
	return s->tls || s->plaintext_ok;
}

static void refuse_plaintext(struct lsess *s)
{
	lsess_reply(s, "-ERR [AUTH] Plaintext authentication disallowed on non-secure "
		    "connections (use STLS)");
	lsess_error(s);
}

static void cmd_capa(struct lsess *s)
{
	const struct pop3d_conf *c = s->L->conf;
	lsess_reply(s, "+OK Capability list follows");
	lsess_reply(s, "TOP");
	lsess_reply(s, "UIDL");
	if (login_allowed(s)) {
		lsess_reply(s, "USER");
		lsess_reply(s, "SASL PLAIN LOGIN");
	}
	lsess_reply(s, "RESP-CODES");
	lsess_reply(s, "AUTH-RESP-CODE");
	lsess_reply(s, "PIPELINING");
	if (s->L->ssl_ctx && !s->tls)
		lsess_reply(s, "STLS");
	if (c->expire_never || c->expire_zero)
		lsess_reply(s, "EXPIRE %s", c->expire_never ? "NEVER" : "0");
	if (c->login_delay)
		lsess_reply(s, "LOGIN-DELAY %u", c->login_delay);
	lsess_reply(s, "IMPLEMENTATION tern");
	lsess_reply(s, ".");
}

static void cmd_stls(struct lsess *s)
{
	if (s->tls) {
		lsess_reply(s, "-ERR Already using TLS");
		lsess_error(s);
	} else if (!s->L->ssl_ctx) {
		lsess_reply(s, "-ERR TLS not available");
		lsess_error(s);
	} else {
		lsess_reply(s, "+OK Begin TLS negotiation");
		/* Nothing pipelined after STLS may survive into the TLS session. */
		struct evbuffer *in = bufferevent_get_input(s->bev);
		evbuffer_drain(in, evbuffer_get_length(in));
		bufferevent_disable(s->bev, EV_READ);
		s->st = LS_STLS;
	}
}

static void on_auth(const struct auth_reply *r, void *arg)
{
	struct lsess *s = arg;
	uint32_t result = r->tempfail ? AUTH_TEMPFAIL : r->result;
	if (result == AUTH_OK && r->host && *r->host) {
		/* Stored on another host of the site: the session is proxied there. */
		free(s->user);
		s->user = NULL;
		if (site_proxy_start(s, r->user ? r->user : "", r->host) == 0)
			return;	/* the outcome comes later */
		s->st = LS_CMD;
		lsess_reply(s, "-ERR [SYS/TEMP] Mailbox host unavailable, try again later");
		lsess_resume(s);
		return;
	}
	if (result == AUTH_OK && r->user && *r->user && r->token && *r->token) {
		s->canon = xstrdup(r->user);
		s->token = xstrdup(r->token);
		s->st = LS_HANDOFF_FLUSH;
		if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
			handoff_start(s);
		/* else on_write starts it once the earlier replies are out */
		return;
	}
	s->st = LS_CMD;
	s->failed_logins += result == AUTH_FAIL || result == AUTH_LOCKED;
	log_debug("pop3 login: ip=%s user=%s login failed (%s)", s->ip, s->tried,
		 result == AUTH_FAIL ? "wrong user or password" : result == AUTH_LOCKED ? "locked out"
								   : "auth service unavailable");
	free(s->user);
	s->user = NULL;
	if (result != AUTH_FAIL && result != AUTH_LOCKED) {
		lsess_reply(s, "-ERR [SYS/TEMP] Authentication service unavailable, try again later");
	} else if (result == AUTH_LOCKED) {
		lsess_reply(s, "-ERR [AUTH] Too many failed logins, try again later");
		lsess_close(s, "locked out");
		return;
	} else {
		lsess_reply(s, "-ERR [AUTH] Authentication failed");
		if (lsess_error(s))
			return;
	}
	lsess_resume(s);
}

/* Ask authd; takes ownership of user (kept for the log) and pass (wiped).
 * site: pass is the site secret, given by a front-end for user. */
static void start_login(struct lsess *s, char *user, char *pass, bool site)
{
	free(s->user);
	s->user = user;
	strlcpy_t(s->tried, user, sizeof s->tried);
	s->st = LS_AUTHWAIT;
	bufferevent_disable(s->bev, EV_READ);
	s->auth_id = (site ? auth_client_site_login : auth_client_login)(s->L->auth, POP3_SERVICE,
									 user, pass, s->ip, on_auth, s);
	free_secret(pass);
}

static void cmd_user(struct lsess *s, const char *name)
{
	if (!login_allowed(s))
		return refuse_plaintext(s);
	free(s->user);
	s->user = xstrdup(name);
	lsess_reply(s, "+OK");
}

static void cmd_pass(struct lsess *s, const char *pass)
{
	if (!login_allowed(s))
		return refuse_plaintext(s);
	if (!s->user) {
		lsess_reply(s, "-ERR USER first");
		lsess_error(s);
		return;
	}
	char *user = s->user;
	s->user = NULL;
	start_login(s, user, xstrdup(pass), false);
}

static void sasl_bad(struct lsess *s, const char *what)
{
	s->st = LS_CMD;
	free(s->user);		/* a half-done AUTH LOGIN leaves nothing for PASS */
	s->user = NULL;
	lsess_reply(s, "-ERR [AUTH] %s", what);
	lsess_error(s);
}

/* A front-end of the site logs in for a user with the site secret
 * (siteproxy.c); anyone else only as the user. */
static void sasl_plain_response(struct lsess *s, const char *b64)
{
	char *user, *pass;
	if (s->site_peer && sasl_plain_site(b64, &user, &pass)) {
		if (s->L->site.tls_verify && !s->tls) {
			log_warn("pop3 login: site login refused: user=%s ip=%s: no TLS "
				 "(site_tls = verify)", user, s->ip);
			free_secret(pass);
			free(user);
			return sasl_bad(s, "The site login needs TLS (site_tls = verify)");
		}
		return start_login(s, user, pass, true);
	}
	if (!sasl_plain(b64, &user, &pass))
		return sasl_bad(s, "Malformed PLAIN response");
	start_login(s, user, pass, false);
}

static void cmd_auth(struct lsess *s, const struct pop3_cmd *c)
{
	if (c->argc == 0) {
		/* RFC 1734 listing, still used by some clients. */
		lsess_reply(s, "+OK");
		if (login_allowed(s)) {
			lsess_reply(s, "PLAIN");
			lsess_reply(s, "LOGIN");
		}
		lsess_reply(s, ".");
		return;
	}
	if (!login_allowed(s))
		return refuse_plaintext(s);
	const char *ir = c->argc > 1 ? c->argv[1] : NULL;
	free(s->user);		/* AUTH starts over: forget an earlier USER */
	s->user = NULL;
	if (!strcasecmp(c->argv[0], "PLAIN")) {
		if (!ir) {
			s->st = LS_SASL_PLAIN;
			lsess_reply(s, "+ ");
		} else {
			sasl_plain_response(s, !strcmp(ir, "=") ? "" : ir);
		}
	} else if (!strcasecmp(c->argv[0], "LOGIN")) {
		if (!ir) {
			s->st = LS_SASL_LOGIN_USER;
			lsess_reply(s, "+ VXNlcm5hbWU6");	/* "Username:" */
		} else if (!sasl_login_field(ir, &s->user)) {
			sasl_bad(s, "Malformed LOGIN response");
		} else {
			s->st = LS_SASL_LOGIN_PASS;
			lsess_reply(s, "+ UGFzc3dvcmQ6");	/* "Password:" */
		}
	} else {
		lsess_reply(s, "-ERR Unsupported authentication mechanism");
		lsess_error(s);
	}
}

static void sasl_line(struct lsess *s, const char *text)
{
	if (!strcmp(text, "*")) {
		s->st = LS_CMD;
		free(s->user);
		s->user = NULL;
		lsess_reply(s, "-ERR Authentication cancelled");
		return;
	}
	if (s->st == LS_SASL_PLAIN)
		return sasl_plain_response(s, text);
	if (s->st == LS_SASL_LOGIN_USER) {
		free(s->user);
		s->user = NULL;
		if (!sasl_login_field(text, &s->user))
			return sasl_bad(s, "Malformed LOGIN response");
		s->st = LS_SASL_LOGIN_PASS;
		lsess_reply(s, "+ UGFzc3dvcmQ6");
		return;
	}
	char *pass;
	if (!sasl_login_field(text, &pass))
		return sasl_bad(s, "Malformed LOGIN response");
	char *user = s->user;
	s->user = NULL;
	start_login(s, user, pass, false);
}

/* XCLIENT ADDR=IP: a front-end of the site (site_frontends) names the
 * client it logs in for, for the logs and authd's failure counts (with
 * site_tls = verify only inside TLS). Anyone else is told there is no such
 * command. */
static void cmd_xclient(struct lsess *s, const char *arg)
{
	unsigned char bin[sizeof(struct in6_addr)];
	const char *ip = strncasecmp(arg, "ADDR=", 5) ? NULL : arg + 5;
	if (!s->site_peer || (s->L->site.tls_verify && !s->tls)) {
		lsess_reply(s, "-ERR Unknown command");	/* verify: a front-end says it in TLS */
	} else if (!ip || strlen(ip) >= sizeof s->ip ||
		   (inet_pton(AF_INET, ip, bin) != 1 && inet_pton(AF_INET6, ip, bin) != 1)) {
		lsess_reply(s, "-ERR Syntax error in XCLIENT arguments");
	} else {
		log_info("pop3 login: front-end %s serves client %s", s->ip, ip);
		strlcpy_t(s->ip, ip, sizeof s->ip);
		lsess_reply(s, "+OK");
		return;
	}
	lsess_error(s);
}

static void dispatch(struct lsess *s, const struct pop3_cmd *c)
{
	if (!(c->def->states & POP3_ST_AUTH)) {
		lsess_reply(s, "-ERR Command not valid in this state");
		lsess_error(s);
		return;
	}
	switch (c->def->id) {
	case CMD_CAPA: return cmd_capa(s);
	case CMD_STLS: return cmd_stls(s);
	case CMD_USER: return cmd_user(s, c->argv[0]);
	case CMD_PASS: return cmd_pass(s, c->argv[0]);
	case CMD_AUTH: return cmd_auth(s, c);
	case CMD_XCLIENT: return cmd_xclient(s, c->argv[0]);
	case CMD_QUIT:
		lsess_reply(s, "+OK %s POP3 server signing off", s->L->hostname);
		lsess_close(s, "quit");
		return;
	case CMD_APOP:
		lsess_reply(s, "-ERR APOP not supported");
		lsess_error(s);
		return;
	default:
		break;
	}
}

void lsess_line(struct lsess *s, char *line, bool has_nul)
{
	if (s->st != LS_CMD) {
		if (has_nul)
			return sasl_bad(s, "Malformed response");
		return sasl_line(s, line);
	}
	struct pop3_cmd c;
	enum pop3_parse r = has_nul ? PARSE_UNKNOWN : pop3_parse(line, &c);
	switch (r) {
	case PARSE_OK:
		return dispatch(s, &c);
	case PARSE_EMPTY:
		lsess_reply(s, "-ERR Empty command");
		break;
	case PARSE_SYNTAX:
		lsess_reply(s, "-ERR Syntax error in %s arguments", c.def->name);
		break;
	default:
		lsess_reply(s, "-ERR Unknown command");
		break;
	}
	lsess_error(s);
}
