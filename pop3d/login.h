/* login.h — the login role: one libevent loop serving the AUTHORIZATION state
 * of every connection (plain with STLS, or implicit TLS), then handing each
 * logged-in connection to the mail role. Internal to pop3d/login*.c and
 * handoff.c. */
#ifndef TERN_POP3D_LOGIN_H
#define TERN_POP3D_LOGIN_H

#include "pop3d/pop3d.h"
#include "common/ipc.h"
#include "common/netlist.h"
#include "common/site.h"

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdbool.h>

struct event_base;
struct bufferevent;
struct listener;
struct login;
struct auth_client;

/* One listening socket and whether it speaks implicit TLS (pop3s). */
struct pop3_listener {
	struct login *L;
	struct listener *l;
	bool tls;
};

struct login {
	struct event_base *base;
	const struct pop3d_conf *conf;
	const char *hostname;
	SSL_CTX *ssl_ctx;		/* NULL: no certificate, no STLS/pop3s */
	struct auth_client *auth;
	char *mail_sock;		/* path as seen after the chroot */
#define POP3_MAX_LISTENERS 32	/* pop3 and pop3s on every `listen` address */
	struct pop3_listener lis[POP3_MAX_LISTENERS];
	int nlis;
	struct lsess *sessions;
	unsigned nsessions;
	bool stopping;			/* SIGHUP: exit when the last session ends */
	struct site site;		/* role and mailbox hosts (proxied logins) */
	char *site_secret;		/* site_secret_file, "" none */
	SSL_CTX *site_tls_ctx;		/* site_tls = verify: the hops to mailbox hosts */
	struct netlist site_nets;	/* site_frontends: may log in for a user */
};

enum lstate {
	LS_CMD,			/* reading commands */
	LS_SASL_PLAIN,		/* waiting for the PLAIN response line */
	LS_SASL_LOGIN_USER,
	LS_SASL_LOGIN_PASS,
	LS_AUTHWAIT,		/* authd is deciding; input stays buffered */
	LS_UPSTREAM,		/* logging in at the user's mailbox host (siteproxy.c) */
	LS_STLS,		/* +OK sent; TLS starts once it is flushed */
	LS_HANDOFF_FLUSH,	/* logged in; hand-off once earlier replies are flushed */
	LS_HANDOFF,		/* waiting for the mail role's answer */
	LS_PROXY,		/* bytes relayed to and from the session (process or host) */
	LS_CLOSING,		/* last reply being flushed */
};

struct lsess {
	struct lsess *next, *prev;
	struct login *L;
	struct bufferevent *bev;	/* client side, plain or TLS */
	struct bufferevent *inner;	/* LS_PROXY: our end of the socketpair */
	struct event *login_timer;
	struct handoff *ho;
	char ip[INET6_ADDRSTRLEN];
	bool tls, plaintext_ok, skipping;	/* plaintext_ok: in plaintext_auth_networks */
	bool site_peer;			/* a front-end of the site (site_frontends) */
	struct pop3_upstream *up;	/* LS_UPSTREAM */
	enum lstate st;
	char *user;			/* USER or SASL LOGIN name, until PASS */
	char *canon, *token;		/* after AUTH_OK */
	unsigned errors;
	unsigned failed_logins;
	char tried[64];			/* last user name tried, for the log */
	uint32_t auth_id;
	uint64_t started_ms;
	const char *end;		/* LS_CLOSING: why (a static string) */
};

/* login.c */
void lsess_reply(struct lsess *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void lsess_close(struct lsess *s, const char *why);	/* after flushing replies */
void lsess_free(struct lsess *s, const char *why);	/* now; logs the session */
void lsess_resume(struct lsess *s);		/* process buffered input again */
bool lsess_error(struct lsess *s);		/* count a bad command; true if closed */
void lsess_start_tls(struct lsess *s);
/* login_cmd.c */
void lsess_line(struct lsess *s, char *line, bool has_nul);
void lsess_greet(struct lsess *s);
/* handoff.c */
void handoff_start(struct lsess *s);
void handoff_free(struct handoff *h);
void proxy_client_read(struct lsess *s);
void proxy_client_drained(struct lsess *s);
/* Copy bytes between the client and inner until either ends (LS_PROXY). */
void lsess_proxy(struct lsess *s, struct bufferevent *inner);
/* siteproxy.c: log in as user at its mailbox host and relay (0), or -1 at
 * once; the outcome comes later (lsess_proxy, or an -ERR and LS_CMD). */
int site_proxy_start(struct lsess *s, const char *user, const char *host);
void site_proxy_free(struct lsess *s);

#endif
