/* authd.h — the auth service: state shared by its parts (server.c: connections
 * and replies; handle_*.c: one handler per request of auth_proto.h). */
#ifndef TERN_AUTHD_AUTHD_H
#define TERN_AUTHD_AUTHD_H

#include "common/auth_proto.h"
#include "common/config.h"
#include "common/ipc.h"
#include "common/userdb.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;
struct directory;
struct site;
struct ratelimit;
struct workq;
struct conn;

/* Work for a connection done off the loop (password hashing): while it runs the
 * connection may go away; the job then finishes with no connection. Embed this
 * first in the job's struct. */
struct conn_job {
	struct conn_job *next, *prev;
	struct conn *c;
};

extern const struct cfg_key authd_settings[];

#define AUTHD_MAX_UIDS 16

struct authd {
	struct event_base *base;
	const char *db_dir;		/* "/" once chrooted into it */
	struct directory *dir;		/* domains, users, aliases (directory.h) */
	const struct site *site;	/* role frontend or mailbox; NULL: one host */
	const char *site_secret;	/* site_secret_file of a site's host, NULL: none */
	struct workq *lookq;		/* lookup threads (pgsql), NULL: lookups inline */
	unsigned lookup_threads;	/* directory_connections */
	struct ratelimit *rl;		/* failures per client address */
	struct ratelimit *rl_users;	/* failures per user, from any address */
	const unsigned char *secret;	/* run secret for tokens, or NULL */
	uint64_t fail_delay_ms;
	uint64_t token_lifetime_s;
	unsigned max_depth;		/* alias nesting */
	unsigned max_conns, nconns;
	unsigned max_pending;		/* delayed replies per connection */
	struct workq *hashq;		/* threads for crypt(3): it takes tens of ms */
	unsigned hash_threads;
	uid_t uids[AUTHD_MAX_UIDS];	/* peers we serve (SO_PEERCRED) */
	size_t nuids;
};
extern struct authd authd;

/* Apply authd.conf values to the global state (start-up and tests). */
void authd_apply_settings(const struct cfg *conf);

/* server.c */
/* Accept on the listening socket and serve until the loop ends. */
void server_start(int listen_fd);
/* Reload (SIGHUP): the master has started a new authd, which owns the socket
 * path now. Stop accepting, answer what is in flight, close each connection
 * once idle (its client reconnects to the new authd by path), then end the loop. */
void server_drain(void);
/* Queue a reply now, or after delay_ms (failed logins). The message is consumed. */
void conn_reply(struct conn *c, struct ipc_msg *res);
void conn_reply_later(struct conn *c, struct ipc_msg *res, uint64_t delay_ms);
/* The reply has no way to say "try later" (SENDER, USER): close the
 * connection instead, so the client answers its pending requests with TEMPFAIL. */
void conn_abort(struct conn *c, const char *why);
/* Track a job of c; false if c has too many requests in flight (c is then
 * closed at the next safe point). */
bool conn_job_add(struct conn *c, struct conn_job *j);
/* The job's connection (NULL if it went away), the job detached from it. */
struct conn *conn_job_finish(struct conn_job *j);
/* After replying from outside the read path: close c if it is broken. */
void conn_settle(struct conn *c);
/* Peer description for logs ("uid=N pid=N"). */
const char *conn_peer(const struct conn *c);

/* peer.c: who may talk to us. */
void peer_allow_defaults(const char *instance_dir);
bool peer_allowed(uid_t uid);

/* A handler reads the request's fields; -1 if malformed (the connection is then
 * closed with a log line), else 0 after queueing its reply. */
typedef int (*auth_handler)(struct conn *c, struct ipc_msg *req);
int handle_login(struct conn *c, struct ipc_msg *req);
int handle_rcpt(struct conn *c, struct ipc_msg *req);
int handle_sender(struct conn *c, struct ipc_msg *req);
int handle_expand(struct conn *c, struct ipc_msg *req);
int handle_user(struct conn *c, struct ipc_msg *req);
int handle_site_login(struct conn *c, struct ipc_msg *req);
/* handle_login.c: the client of a login is an IP address or "local". */
bool login_client_ok(const char *client);
/* site_login.c: where the mail of user, who just logged in to service, is
 * stored: 1 with host "" (here, or a service that is not proxied) or the
 * mailbox host to proxy to; 0 nowhere (a front-end user without a mailbox
 * host); -1 directory error. Any thread. */
int login_host(const char *service, const char *user, char host[USERDB_MAX_HOST + 1]);
int handle_addresses(struct conn *c, struct ipc_msg *req);
int handle_route(struct conn *c, struct ipc_msg *req);

/* handle_expand.c: the EXPAND fields of a reply (EXPAND and ROUTE), and the
 * log line of an expansion that is not plainly local mailboxes. */
struct expansion;
void expansion_put(struct ipc_msg *m, enum expand_status st, const struct expansion *x);
void expansion_log(const char *address, enum expand_status st, const struct expansion *x,
		   const char *error);

/* lookup.c: a request answered from the directory. The handler fills a job
 * that begins with struct lookup (then its own fields) and submits it: work()
 * reads the directory and touches only the job, reply() answers on the loop.
 * With Berkeley DB both run at once (a lookup is a pread); with PostgreSQL
 * work() runs on a lookup thread (a lookup is a round trip, or a wait for an
 * unreachable server, which must not stall every other request). */
struct lookup {
	struct conn_job link;	/* first: see conn_job */
	uint32_t id;
	void (*work)(struct lookup *l);
	void (*reply)(struct conn *c, struct lookup *l);
};
void lookup_submit(struct conn *c, struct lookup *l);

/* A lookup of one address (RCPT, EXPAND, ROUTE, USER): its job begins with this. */
struct addr_lookup {
	struct lookup l;	/* first */
	char address[AUTH_MAX_FIELD + 1];
};
/* Read the request's address into a new job of size bytes (beginning with
 * struct addr_lookup) and submit it; -1 if the request is malformed. */
int lookup_address(struct conn *c, struct ipc_msg *req, size_t size,
		   void (*work)(struct lookup *l), void (*reply)(struct conn *c, struct lookup *l));

/* token.c: the token for a successful login, "" without a run secret. */
void token_for(const char *service, const char *user, char *out, size_t outlen);

#endif
