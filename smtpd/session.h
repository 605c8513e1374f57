/* session.h — one SMTP session: its state, its transaction, and the calls
 * between the files that drive it (session.c: input and command table;
 * txn.c: DATA/BDAT and the queue hand-off; auth.c: AUTH; policy.c: relay rules;
 * tlsio.c: STARTTLS and implicit TLS). */
#ifndef TERN_SMTPD_SESSION_H
#define TERN_SMTPD_SESSION_H

#include "smtpd/data.h"
#include "smtpd/hdrfilter.h"
#include "smtpd/parse.h"
#include "smtpd/settings.h"

#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

struct bufferevent;
struct event;
struct event_base;
struct evbuffer;
struct peer;
struct auth_client;
struct mailauth;

/* L_INTERNAL: a mailbox host's port for its front-ends (docs/SCALING.md). */
enum listener_kind { L_SMTP, L_SUBMISSION, L_SMTPS, L_INTERNAL, L_COUNT };

/* Process-wide context shared by every session. */
struct server {
	struct event_base *base;
	struct smtpd_conf conf;
	const char *hostname;
	SSL_CTX *tls;			/* NULL: no certificate, no STARTTLS */
	struct auth_client *auth;	/* authd (common/auth_client.h) */
	struct peer *queue;		/* queued */
	struct session *sessions;	/* all live sessions */
	unsigned nsessions;
	unsigned npool[2];		/* by pool: MX (port 25), submission (587, 465) */
	bool draining;			/* SIGHUP: exit once the last session ends */
	char *urlfetch_path;		/* imapd's URLAUTH fetch socket (BURL) */
	uint64_t next_session;
};

/* Session states; the command table lists the states each command is valid in. */
enum sstate {
	ST_GREET = 1 << 0,	/* connected, waiting for HELO/EHLO */
	ST_HELO = 1 << 1,	/* greeted, no transaction */
	ST_MAIL = 1 << 2,	/* MAIL accepted */
	ST_RCPT = 1 << 3,	/* at least one RCPT accepted */
	ST_BDAT = 1 << 4,	/* between BDAT chunks */
	ST_DATA = 1 << 5,	/* receiving a DATA body */
	ST_AUTH = 1 << 6,	/* AUTH exchange: next line is a SASL response */
	ST_TLS = 1 << 7,	/* TLS handshake in progress */
	ST_CLOSING = 1 << 8,	/* reply sent, closing once flushed */
};

struct rcpt {
	char *addr;
	unsigned notify;
	char *orcpt;
};

struct txn {
	struct mail_args mail;
	struct rcpt *rcpts;
	unsigned nrcpt;
	struct rcpt pending;	/* RCPT being looked up (addr NULL when none) */
	bool committing;	/* QUEUE_COMMIT sent: the file is no longer ours to abort */
	char qid[64];		/* from QUEUE_NEW_RES */
	int fd;			/* spool file, -1 when none */
	struct evbuffer *spool;	/* bytes waiting to be written to fd */
	bool write_failed;
	struct data_sm body;
	bool bdat;		/* CHUNKING transaction */
	/* inbound authentication (inbound.c) */
	struct mailauth *auth;	/* SPF done, DKIM being fed; NULL when not checked */
	struct hdrfilter hf;	/* removes forged Authentication-Results */
	bool hf_on;
	char *prepend;		/* Authentication-Results for queued to put on top */
	bool quarantine;	/* DMARC says quarantine: deliver to Junk */
	bool tls_optional;	/* "TLS-Required: No" in the header (RFC 8689 3) */
};

/* A BDAT chunk being read (kept outside the transaction: a refused chunk is
 * still read, so its bytes are never taken for commands). */
struct chunk {
	bool reading;		/* the next `left` input bytes are BDAT data */
	uint64_t size, left;
	bool last;
	const char *refusal;	/* drop the chunk, then send this reply */
};

/* A BURL (RFC 4468) in progress: the URL's octets coming from imapd
 * (common/urlfetch.h) as a chunk of the message (burl.c). */
struct burl {
	char *url;		/* NULL when none */
	bool last;
	int sock;		/* asking imapd's mail role, -1 */
	int fd;			/* the octets, -1 */
	uint64_t size, left;
	struct event *ev;
	void *conn;		/* struct ipc_conn while asking */
};

struct session {
	struct server *srv;
	struct session *next, *prev;
	uint64_t id;
	int fd;
	struct bufferevent *bev;
	bool bev_owns_fd;
	enum listener_kind kind;
	char ip[INET6_ADDRSTRLEN];
	unsigned port;
	bool plaintext_ok;	/* client in plaintext_auth_networks */
	bool trusted;		/* client in trusted_networks */
	bool site_peer;		/* L_INTERNAL: a front-end that gave the site secret */
	char helo[SMTP_HELO_MAX + 1];
	bool esmtp;
	unsigned state;
	bool busy;		/* waiting for authd/queued: input is held */
	uint32_t auth_req;	/* authd request in flight, 0 if none */
	bool skipping;		/* discarding the rest of an overlong line */
	bool reaping;		/* session_free is scheduled */
	struct event *reap_ev;
	unsigned errors;
	bool tls;
	char tls_version[32], tls_cipher[96];
	char *auth_user;	/* canonical user after AUTH */
	/* AUTH exchange */
	int auth_mech;		/* 0 PLAIN, 1 LOGIN */
	int auth_step;
	char *auth_login_user;
	unsigned auth_failures;
	struct txn tx;
	bool in_txn;
	struct chunk chunk;
	struct burl burl;
	unsigned messages;
	uint64_t start_ms;
	const char *end_reason;
};

/* session.c */
void session_accept(struct server *srv, int fd, enum listener_kind kind, struct sockaddr *sa);
void session_shutdown_all(struct server *srv);	/* SIGTERM: 421 and free every session */
void session_reply(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void session_error(struct session *s);		/* count a protocol error; 421 at the limit */
void session_close(struct session *s, const char *reason);
void session_resume(struct session *s);		/* after an async answer: process held input */
void session_set_timeout(struct session *s, unsigned seconds);
void session_start_io(struct session *s);	/* callbacks + timeouts on s->bev */
void session_greet(struct session *s);
void session_reset_txn(struct session *s);
const char *kind_name(enum listener_kind k);
bool session_auth_allowed(const struct session *s);

/* txn.c: MAIL, RCPT, DATA, BDAT and the queue hand-off */
void cmd_mail(struct session *s, const char *arg);
void cmd_rcpt(struct session *s, const char *arg);
void cmd_data(struct session *s, const char *arg);
void cmd_bdat(struct session *s, const char *arg);
/* Consume body bytes from in (DATA body or BDAT chunk); false if it needs more. */
bool txn_input(struct session *s, struct evbuffer *in);
/* Continuations from inbound.c: reply NULL = go on, else refuse with it. */
void txn_mail_checked(struct session *s, const char *reply);
void txn_body_checked(struct session *s, const char *reply);
/* Append message bytes to the spool file (after filtering). */
void txn_spool(struct session *s, const char *p, size_t n);
void txn_free(struct session *s);
/* Message octets of a BDAT or BURL chunk into the body machine. */
void txn_feed(struct session *s, const char *p, size_t n);
/* A chunk of size octets is complete: the next one is awaited (250), or
 * with last the message ends and goes to the queue. */
void txn_chunk_end(struct session *s, bool last, uint64_t size);
/* The transaction fails with reply (the client starts again from MAIL). */
void txn_fail(struct session *s, const char *reply);

/* burl.c: BURL imap-url [LAST] (RFC 4468), after AUTH */
void cmd_burl(struct session *s, const char *arg);
/* The spool file for the BURL's message is open (ok) or refused (reply). */
void burl_queue_ready(struct session *s, const char *refusal);
void burl_free(struct session *s);

/* auth.c */
void cmd_auth(struct session *s, const char *arg);
void auth_continue(struct session *s, const char *line);

/* tlsio.c */
void cmd_starttls(struct session *s, const char *arg);
bool tls_start_implicit(struct session *s);
void tls_after_flush(struct session *s);	/* STARTTLS reply sent: switch to TLS */
void tls_established(struct session *s);	/* handshake done */
void tls_log_failure(struct session *s);

/* policy.c: questions to authd; each answer continues in txn.c / auth.c */
void policy_rcpt(struct session *s, const char *addr);
void policy_sender(struct session *s, const char *addr);
void policy_login(struct session *s, const char *user, const char *pass);
enum rcpt_verdict { RV_OK, RV_UNKNOWN, RV_RELAY_DENIED, RV_TEMPFAIL };
void txn_rcpt_done(struct session *s, enum rcpt_verdict v);
void txn_sender_done(struct session *s, bool allowed, bool tempfail);
void auth_login_done(struct session *s, int result, const char *user);

/* queue_client.c: questions to queued; answers continue in txn.c */
void queue_new(struct session *s);
void queue_commit(struct session *s);
void queue_abort(struct server *srv, const char *qid);
void txn_queue_new_done(struct session *s, int status, const char *qid, int fd);
void txn_commit_done(struct session *s, int status, const char *qid, const char *text);

#endif
