/* queued.h — the queue manager's shared state (internal to queued/).
 *
 *   spool.c   spool directories, queue ids, commit work (trailer, fsync, rename)
 *   qindex.c  Berkeley DB index;  flush.c  group commit (one log flush per batch)
 *   store.c   in-memory table of queued messages, recovery and rebuild
 *   server.c  queue.sock connections: enqueue, agents, admin dispatch
 *   sched.c   routing (auth RCPT), jobs to agents, results, retries, expiry
 *   bounce.c  DSNs queued as new messages;  dsn.c  DSN text (RFC 3464)
 *   admin.c   mailctl queue commands
 *   status.c  delivery status for the user who submitted (JMAP, through httpd)
 *   reclog.c   report records: DMARC from smtpd (SPOOL/dmarc/records), TLS-RPT
 *              from the remote agent (SPOOL/tlsrpt/records) */
#ifndef TERN_QUEUED_H
#define TERN_QUEUED_H

#include "queued/qrec.h"
#include "common/config.h"

#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct auth_client;
struct workq;
struct ipc_msg;

struct qconf {
	uint64_t min_backoff, max_backoff, lifetime, delay_warning;
	uint64_t minfree, bounce_size_limit;
	unsigned agent_max_jobs;
	char *hostname;
};

enum { IF_IDLE = 0, IF_ROUTING, IF_LOCAL, IF_REMOTE, IF_JOB };

struct auth_mailbox;
struct qexp {
	struct auth_mailbox *boxes;	/* auth_client.h; n == 0: the agent expands */
	size_t n;
};

/* A message in memory: its record plus run-time state. */
struct qent {
	struct qmsg m;
	unsigned busy;		/* routing lookups + jobs outstanding */
	bool deleted;		/* delete once nothing is outstanding */
	bool removing;		/* final: file and record being removed */
	uint8_t *inflight;	/* per recipient: IF_* */
	uint8_t *local;		/* per recipient: 1 once the local agent delivered it (in
				 * memory only: RFC 8621's delivered "yes", not "unknown") */
	char **hop;		/* per recipient: the mailbox host of the site to relay it to
				 * (RCPT_RELAY), or NULL: MX routing; NULL until one is */
	struct qexp *exp;	/* per recipient: its mailboxes as the routing lookup
				 * expanded them, passed to the local agent with the job;
				 * NULL until one is */
	unsigned routing;	/* recipient lookups outstanding */
	unsigned waiting;	/* bit 1 << QT_*: on that transport's wait list for an agent */
	struct qent *hnext;
};

extern const struct cfg_key queued_settings[];	/* settings.c */
extern struct qconf qconf;
extern struct event_base *qbase;
extern struct auth_client *qauth;
extern struct workq *qwork;
extern char *spool_dir;

/* spool.c */
int spool_init(const char *dir);
char *spool_path(const char *sub, const char *id);	/* SPOOL/sub/id, malloc'd */
int spool_new_file(char id[QID_LEN + 1]);		/* fd (O_RDWR) or -1 */
bool spool_has_room(void);
/* Blocking: append m's trailer to fd (m->size = current length), fdatasync,
 * rename incoming/ID to msg/ID. 0 or an errno. */
int spool_commit_file(int fd, struct qmsg *m);
/* Write a complete message (data, CRLF) durably as msg/ID with m's trailer; 0 or errno. */
int spool_write_message(struct qmsg *m, const char *data, size_t len);

/* flush.c: run fn(arg, err) after every index change so far is durable. */
void flush_later(void (*fn)(void *arg, int err), void *arg);
/* The same, with no hurry: fn runs with the next flush someone waits for, or
 * at the latest about 50 ms from now. */
void flush_ride(void (*fn)(void *arg, int err), void *arg);
void flush_mark_dir(void);	/* msg/ changed: fsync it with the next flush */
void flush_init(void);

/* store.c */
struct qent *store_get(const char *id);
struct qent *store_add(struct qmsg *m);	/* takes m's contents */
void store_remove(struct qent *e);		/* frees e */
void store_set_exp(struct qent *e, uint32_t i, struct auth_mailbox *boxes, size_t n); /* takes boxes */
void store_each(void (*fn)(struct qent *e, void *arg), void *arg);
unsigned store_count(void);
int store_save(struct qent *e);			/* index put, logs errors */
void store_finish(struct qent *e);		/* all done or deleted: remove file + record */
int store_recover(bool at_start, char *summary, size_t len);

/* sched.c */
extern bool sched_paused;
void sched_init(void);
void sched_kick(struct qent *e);		/* try to deliver now */
/* Route a message's recipients while its commit is made durable: at the commit
 * request, sched_preroute (NULL when deliveries could not start anyway); once
 * committed, sched_kick_routed (takes p; p NULL: sched_kick), or on failure
 * sched_preroute_drop. */
struct preroute;
struct preroute *sched_preroute(const struct qmsg *m);
void sched_kick_routed(struct qent *e, struct preroute *p);
void sched_preroute_drop(struct preroute *p);
void sched_kick_all(void);
void sched_rearm(void);				/* recompute the retry timer (full scan) */
void sched_rearm_one(struct qent *e);		/* e changed: maybe fire earlier */
void sched_agent_hello(uint64_t cid, uint32_t transport);
void sched_agent_gone(uint64_t cid);
void sched_agent_drain(uint64_t cid);	/* no new jobs for this agent */
/* false: malformed (queue_codec.h), close the agent's connection */
bool sched_job_result(uint64_t cid, struct ipc_msg *m);
void sched_set_paused(bool paused);

/* bounce.c: failure DSN for unreported bounced recipients; delay warning. */
void bounce_check(struct qent *e, uint64_t now);

/* server.c */
int server_bind(const char *path);			/* before privdrop */
void server_start(int lfd, unsigned owner_uid, const unsigned char *agent_key);
bool server_send(uint64_t cid, struct ipc_msg *m);	/* false if the client is gone */

/* admin.c: run an admin command; lines appended to *out (count *n). */
int admin_run(const char *cmd, const char *arg, char ***out, uint32_t *n);

/* reclog.c: the report record logs (after spool_init and the event base) */
struct reclog;
extern struct reclog *dmarc_log, *tlsrpt_log;
void reclog_init(uint64_t dmarc_max, uint64_t tlsrpt_max);	/* 0: keep no records */
void reclog_set_max(struct reclog *l, uint64_t max_bytes);
/* Append one formatted line (consumed). */
void reclog_append(struct reclog *l, char *line);

/* status.c: delivery status for the submitter (QUEUE_STATUS_REQ) */
void status_remember(const struct qent *e);	/* e finished: keep its outcome */
/* Answer req into res; false: malformed (close the connection). */
bool status_answer(struct ipc_msg *req, struct ipc_msg *res, unsigned uid);

/* small helpers */
uint64_t unix_now(void);

#endif
