/* login.h — internals of the login role shared by login.c and handoff.c. */
#ifndef TERN_IMAPD_LOGIN_H
#define TERN_IMAPD_LOGIN_H

#include "imapd/parser.h"
#include "common/netlist.h"
#include "common/site.h"

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

struct auth_client;
struct listener;

struct login_ctx {
	struct event_base *base;
	struct auth_client *auth;
	SSL_CTX *tls_ctx;
#define IMAP_MAX_LISTENERS 32	/* imap and imaps on every `listen` address */
	struct listener *lis[IMAP_MAX_LISTENERS];
	int nlis;
	const char *hostname;
	char *run_prefix;	/* "" when chrooted in run_dir, else run_dir */
	struct netlist plaintext_nets;	/* may log in without TLS */
	struct site site;		/* role and mailbox hosts (proxied logins) */
	char *site_secret;		/* site_secret_file, "" none */
	SSL_CTX *site_tls_ctx;		/* site_tls = verify: the hops to mailbox hosts */
	struct netlist site_nets;	/* site_frontends: may log in for a user */
	bool draining;
	uint64_t max_line, max_clients, max_per_ip, login_timeout, dead_client_timeout;
	uint64_t nclients, nproxies;
	struct lclient *clients;	/* not yet handed off */
};

/* LC_SASL_*: waiting for the client's next AUTHENTICATE response line */
enum lc_state { LC_CMD, LC_SASL_PLAIN, LC_SASL_LOGIN_USER, LC_SASL_LOGIN_PASS, LC_AUTHWAIT };

struct lclient {
	struct lclient *next, *prev;	/* login_ctx.clients */
	struct event *deadline;		/* login_timeout after the connection */
	struct bufferevent *bev;
	int fd;			/* the accepted socket */
	bool tls, closing;
	bool plaintext_ok;	/* client in plaintext_auth_networks */
	bool site_peer;		/* a front-end of the site (site_frontends) */
	struct upstream *up;	/* logging in at the user's mailbox host */
	enum lc_state state;
	struct cmdreader cr;
	char ip[64];
	char *tag;		/* tag of the command being handled */
	char *sasl_user;	/* AUTHENTICATE LOGIN: the user name, until the password comes */
	uint32_t auth_id;
	int failures, bad_commands;
};

const struct login_ctx *login_ctx(void);
void login_process(struct lclient *c);
void login_setup_bev(struct lclient *c);
void lclient_free(struct lclient *c);
/* Hand c to the mail role; 0 on success (c is then freed or owned by a proxy). */
int handoff(struct lclient *c, const char *user, const char *token);
/* Copy bytes between c's client and other from now on; c is freed. */
void login_splice(struct lclient *c, struct bufferevent *other);
/* The login failed for want of a service: NO [UNAVAILABLE] text, and the
 * client may go on. */
void login_auth_unavailable(struct lclient *c, const char *text);
/* siteproxy.c: log in as user at its mailbox host and splice (0), or -1 at
 * once; the outcome comes later (login_splice or login_auth_unavailable). */
int site_proxy_start(struct lclient *c, const char *user, const char *host);
void site_proxy_cancel(struct lclient *c);
/* Count of live proxies changes (for draining). */
void login_proxy_count(int delta);

#endif
