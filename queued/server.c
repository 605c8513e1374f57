/* server.c — connections on RUN/queue.sock (common/queue_proto.h).
 *
 * Peers are identified by SO_PEERCRED: root, queued's own user, the instance
 * owner and the suite's accounts are trusted enqueuers (their envelope fields
 * are kept); any other local user may only enqueue (sendmail), and their
 * envelope is marked local. Administration is for root and the instance owner
 * only. Taking jobs needs the run's agent key as well (queue_proto.h). */
#include "queued/queued.h"
#include "queued/qindex.h"
#include "common/dmarc_record.h"
#include "common/tlsrpt_record.h"
#include "common/ipc.h"
#include "common/listener.h"
#include "common/log.h"
#include "common/privdrop.h"
#include "common/queue_codec.h"
#include "common/queue_proto.h"
#include "common/util.h"
#include "common/workq.h"

#include <errno.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PENDING_NEW 512	/* uncommitted files per trusted connection */
#define MAX_PENDING_LOCAL 4	/* ... per connection of an ordinary local user */
#define MAX_CLIENTS 4096

struct pending {
	char id[QID_LEN + 1];
	int fd;
};

struct client {
	uint64_t cid;
	struct ipc_conn conn;
	struct event *ev_rd, *ev_wr;
	unsigned uid;
	int pid;
	bool trusted;		/* suite account, root or owner */
	bool admin;		/* root or owner */
	bool agent;
	struct pending *pend;
	size_t npend;
	struct client *next;
};

static struct client *clients;
static uint64_t next_cid = 1;
static unsigned nclients;
static uid_t owner_uid;
static uid_t trusted_uids[16];
static size_t ntrusted;
static const unsigned char *agent_key;	/* NULL: no process may be an agent */

struct commit {
	uint64_t cid;
	uint32_t reqid;
	int fd;
	struct qmsg m;
	int err;
	struct preroute *route;	/* recipients looked up meanwhile (sched.c) */
};

static struct client *find_client(uint64_t cid)
{
	for (struct client *c = clients; c; c = c->next)
		if (c->cid == cid)
			return c;
	return NULL;
}

static void client_close(struct client *c)
{
	for (size_t i = 0; i < c->npend; i++) {
		close(c->pend[i].fd);
		char *p = spool_path("incoming", c->pend[i].id);
		unlink(p);
		free(p);
	}
	free(c->pend);
	if (c->agent)
		sched_agent_gone(c->cid);
	event_free(c->ev_rd);
	event_free(c->ev_wr);
	ipc_conn_close(&c->conn);
	struct client **pp = &clients;
	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	free(c);
	nclients--;
}

static void client_flush(struct client *c)
{
	int r = ipc_conn_flush(&c->conn);
	if (r == 0)
		event_add(c->ev_wr, NULL);
	else if (r < 0)
		c->conn.failed = true;	/* noticed by the next read */
}

bool server_send(uint64_t cid, struct ipc_msg *m)
{
	struct client *c = find_client(cid);
	if (!c) {
		ipc_msg_free(m);
		return false;
	}
	ipc_conn_queue(&c->conn, m);
	ipc_msg_free(m);
	client_flush(c);
	return true;
}

static void reply_commit(uint64_t cid, uint32_t reqid, uint32_t st, const char *id, const char *text)
{
	struct ipc_msg r;
	ipc_msg_init(&r, QUEUE_COMMIT_RES, reqid);
	queue_commit_res_put(&r, st, id, text);
	server_send(cid, &r);
}

static void commit_work(void *arg)
{
	struct commit *k = arg;
	k->err = spool_commit_file(k->fd, &k->m);
}

static void commit_flushed(void *arg, int err)
{
	struct commit *k = arg;
	reply_commit(k->cid, k->reqid, QS_OK, k->m.id, "queued");
	log_info("%s: from=<%s>, size=%llu, nrcpt=%u, client=%s%s%s", k->m.id, k->m.sender,
		 (unsigned long long)k->m.size, k->m.nrcpt, k->m.client,
		 *k->m.authuser ? ", sasl_username=" : "", k->m.authuser);
	struct qent *e = store_add(&k->m);
	struct preroute *route = k->route;
	free(k);
	sched_kick_routed(e, route);
}

static void commit_fail(struct commit *k, const char *where, int err)
{
	bool full = err == ENOSPC || err == EDQUOT;
	log_err("%s: enqueue failed (%s: %s)%s", k->m.id, where, strerror(err),
		full ? ": spool file system full" : "");
	reply_commit(k->cid, k->reqid, full ? QS_NOSPACE : QS_TEMPFAIL, k->m.id,
		     full ? "insufficient system storage" : "queue file write error");
	sched_preroute_drop(k->route);
	qmsg_free(&k->m);
	free(k);
}

static void commit_done(void *arg)
{
	struct commit *k = arg;
	close(k->fd);
	if (k->err) {
		char *p = spool_path("incoming", k->m.id);
		unlink(p);
		free(p);
		commit_fail(k, "write", k->err);
		return;
	}
	if (qindex_put(&k->m) < 0) {
		int e = errno;
		char *p = spool_path("msg", k->m.id);
		unlink(p);
		free(p);
		commit_fail(k, "index", e);
		return;
	}
	flush_mark_dir();
	flush_later(commit_flushed, k);
}

static bool handle_new(struct client *c, struct ipc_msg *m)
{
	if (!queue_empty_get(m))
		return false;
	struct ipc_msg r;
	ipc_msg_init(&r, QUEUE_NEW_RES, m->hdr.id);
	char id[QID_LEN + 1] = "";
	int fd = -1;
	uint32_t st = QS_OK;
	if (c->npend >= (c->trusted ? MAX_PENDING_NEW : MAX_PENDING_LOCAL)) {
		st = QS_TEMPFAIL;
	} else if (!spool_has_room()) {
		log_warn("enqueue refused: less than %llu bytes free in %s",
			 (unsigned long long)qconf.minfree, spool_dir);
		st = QS_NOSPACE;
	} else if ((fd = spool_new_file(id)) < 0) {
		log_err("cannot create queue file: %s", strerror(errno));
		st = errno == ENOSPC || errno == EDQUOT ? QS_NOSPACE : QS_TEMPFAIL;
	}
	int theirs = st == QS_OK ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
	if (st == QS_OK && theirs < 0) {
		log_err("%s: dup: %s", id, strerror(errno));
		close(fd);
		char *p = spool_path("incoming", id);
		unlink(p);
		free(p);
		st = QS_TEMPFAIL;
	}
	if (st == QS_OK) {
		c->pend = xrealloc(c->pend, (c->npend + 1) * sizeof *c->pend);
		memcpy(c->pend[c->npend].id, id, sizeof id);
		c->pend[c->npend++].fd = fd;
	}
	queue_new_res_put(&r, st, st == QS_OK ? id : "", theirs);
	ipc_conn_queue(&c->conn, &r);
	ipc_msg_free(&r);
	return true;
}

/* Take the pending file id off the client's list; its fd or -1. */
static int take_pending(struct client *c, const char *id)
{
	for (size_t i = 0; i < c->npend; i++) {
		if (strcmp(c->pend[i].id, id))
			continue;
		int fd = c->pend[i].fd;
		c->pend[i] = c->pend[--c->npend];
		return fd;
	}
	return -1;
}

static bool parse_commit(struct client *c, struct ipc_msg *m, struct qmsg *q)
{
	struct queue_commit h;
	if (!queue_commit_get(m, &h))
		return false;
	memcpy(q->id, h.qid, QID_LEN + 1);
	q->sender = xstrdup(h.sender);
	q->flags = h.flags & (QF_8BITMIME | QF_SMTPUTF8 | QF_AUTH | QF_LOCAL | QF_QUARANTINE |
			      QF_REQUIRETLS | QF_TLS_OPTIONAL);
	q->envid = xstrdup(h.envid);
	q->ret = h.ret;
	q->client = xstrdup(h.client);
	q->authuser = xstrdup(h.authuser);
	for (uint32_t i = 0; i < h.nrcpt; i++) {
		const char *a, *o;
		uint32_t notify;
		if (!queue_commit_get_rcpt(m, &a, &notify, &o))
			return false;
		qmsg_add_rcpt(q, a, o, notify & 15);
	}
	const char *p;
	if (!queue_commit_get_end(m, &p))
		return false;
	if (p)
		q->prepend = xstrdup(p);
	if (!c->trusted) {
		/* A local user's submission: we say who it came from. */
		free(q->client);
		free(q->authuser);
		q->client = xasprintf("local uid=%u", c->uid);
		q->authuser = xstrdup("");
		q->flags = (q->flags & (QF_8BITMIME | QF_SMTPUTF8)) | QF_LOCAL;
		free(q->prepend);	/* only smtpd may add header fields */
		q->prepend = NULL;
	}
	return true;
}

static bool handle_commit(struct client *c, struct ipc_msg *m)
{
	struct commit *k = xcalloc(1, sizeof *k);
	k->cid = c->cid;
	k->reqid = m->hdr.id;
	if (!parse_commit(c, m, &k->m)) {
		log_warn("malformed QUEUE_COMMIT from uid %u", c->uid);
		reply_commit(c->cid, m->hdr.id, QS_REJECT, k->m.id, "malformed commit request");
		qmsg_free(&k->m);
		free(k);
		return false;	/* malformed: the connection goes */
	}
	k->fd = take_pending(c, k->m.id);
	if (k->fd < 0) {
		/* Typically the queue restarted since QUEUE_NEW: try again. */
		reply_commit(c->cid, m->hdr.id, QS_TEMPFAIL, k->m.id,
			     "no such queue file on this connection (queue restarted?)");
		qmsg_free(&k->m);
		free(k);
		return true;
	}
	k->m.arrival = unix_now();
	for (uint32_t i = 0; i < k->m.nrcpt; i++)
		k->m.rcpt[i].next_attempt = k->m.arrival;
	k->route = sched_preroute(&k->m);
	workq_submit(qwork, commit_work, commit_done, k);
	return true;
}

static bool handle_abort(struct client *c, struct ipc_msg *m)
{
	const char *id;
	if (!queue_abort_get(m, &id))
		return false;
	int fd = take_pending(c, id);
	if (fd < 0)
		return true;
	close(fd);
	char *p = spool_path("incoming", id);
	unlink(p);
	free(p);
	log_info("%s: enqueue aborted by the client (uid %u); file removed", id, c->uid);
	return true;
}

struct admin_reply {
	uint64_t cid;
	struct ipc_msg *frames;
	uint32_t n;
};

static void admin_reply_send(void *arg, int err)
{
	struct admin_reply *ar = arg;
	for (uint32_t i = 0; i < ar->n; i++)
		server_send(ar->cid, &ar->frames[i]);	/* frees the frame */
	free(ar->frames);
	free(ar);
}

static void handle_admin(struct client *c, struct ipc_msg *m)
{
	const char *cmd, *arg;
	bool wellformed = queue_admin_get(m, &cmd, &arg);
	char **lines = NULL;
	uint32_t n = 0;
	int st;
	if (!c->admin) {
		st = QS_REJECT;
		lines = xmalloc(sizeof *lines);
		lines[n++] = xstrdup("permission denied: queue administration needs root or the instance owner");
	} else if (!wellformed) {
		st = QS_REJECT;
		lines = xmalloc(sizeof *lines);
		lines[n++] = xstrdup("malformed request");
	} else {
		st = admin_run(cmd, arg, &lines, &n);
	}
	/* As many frames as the lines need, each under the frame limit; all but
	 * the last say QS_MORE. */
	struct admin_reply *ar = xcalloc(1, sizeof *ar);
	ar->cid = c->cid;
	uint32_t i = 0;
	do {
		size_t bytes = 0;
		uint32_t k = i;
		while (k < n && (k == i || bytes + strlen(lines[k]) + 64 < IPC_MAX_PAYLOAD - 1024))
			bytes += strlen(lines[k++]) + 5;
		ar->frames = xrealloc(ar->frames, (ar->n + 1) * sizeof *ar->frames);
		struct ipc_msg *r = &ar->frames[ar->n++];
		ipc_msg_init(r, QUEUE_ADMIN_RES, m->hdr.id);
		/* a single line is cut to fit (never happens with our lines) */
		for (uint32_t l = i; l < k; l++)
			if (strlen(lines[l]) > IPC_MAX_PAYLOAD / 2)
				lines[l][IPC_MAX_PAYLOAD / 2] = 0;
		queue_admin_res_put(r, k < n ? QS_MORE : (uint32_t)st, k - i,
				    lines ? lines + i : NULL);	/* none: lines is NULL */
		i = k;
	} while (i < n);
	for (i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	/* A command that changed the queue answers once its changes are durable
	 * (and deleted files are gone), so mailctl returns when it is done. */
	bool changes = wellformed && c->admin && strcmp(cmd, "list") && strcmp(cmd, "show");
	if (changes)
		flush_later(admin_reply_send, ar);
	else
		admin_reply_send(ar, 0);
}

/* A record smtpd made (trusted peers only). Malformed framing closes the
 * connection like any malformed message; a well-formed record with a bad
 * field is only logged, so smtpd's transactions on the connection go on. */
static bool handle_dmarc(struct client *c, struct ipc_msg *m)
{
	struct dmarc_record r;
	if (!c->trusted || !dmarc_record_get(m, &r))
		return false;
	char *line = dmarc_record_valid(&r) ? dmarc_record_format(&r) : NULL;
	if (!line)
		log_warn("DMARC record from uid %u with a bad field or too long; not kept", c->uid);
	else
		reclog_append(dmarc_log, line);
	return true;
}

/* An outbound TLS session outcome (delivery agents only), kept like a DMARC
 * record. */
static bool handle_tlsrpt(struct client *c, struct ipc_msg *m)
{
	struct tlsrpt_record r;
	if (!c->agent || !tlsrpt_record_get(m, &r))
		return false;
	char *line = tlsrpt_record_format(&r);
	if (!line)
		log_warn("TLS-RPT record from uid %u with a bad field or too long; not kept", c->uid);
	else
		reclog_append(tlsrpt_log, line);
	return true;
}

/* Delivery status for a submitter (status.c): trusted peers only (httpd's
 * front, which names the user it authenticated); queued compares that user
 * with the one its record says submitted the message. */
static bool handle_status(struct client *c, struct ipc_msg *m)
{
	if (!c->trusted || c->agent)
		return false;
	struct ipc_msg r;
	ipc_msg_init(&r, QUEUE_STATUS_RES, m->hdr.id);
	bool ok = status_answer(m, &r, c->uid);
	if (ok)
		ipc_conn_queue(&c->conn, &r);
	ipc_msg_free(&r);
	return ok;
}

/* Only a process holding the agent key may take jobs (message files of every
 * user, and the word on whether they were delivered). */
static bool handle_hello(struct client *c, struct ipc_msg *m)
{
	uint32_t t;
	const unsigned char *key;
	bool wellformed = queue_hello_get(m, &t, &key) && !c->agent;
	if (!wellformed || !agent_key || !c->trusted ||
	    CRYPTO_memcmp(key, agent_key, QUEUE_AGENT_KEY_LEN) != 0) {
		log_warn("queue.sock: uid %u (pid %d) asked to be a delivery agent without the "
			 "agent key; refused", c->uid, c->pid);
		return false;
	}
	c->agent = true;
	sched_agent_hello(c->cid, t);
	return true;
}

static bool handle(struct client *c, struct ipc_msg *m)
{
	switch (m->hdr.type) {
	case QUEUE_NEW_REQ:
		return handle_new(c, m);
	case QUEUE_COMMIT_REQ:
		return handle_commit(c, m);
	case QUEUE_ABORT_REQ:
		return handle_abort(c, m);
	case QUEUE_ADMIN_REQ:
		handle_admin(c, m);
		return true;
	case QUEUE_AGENT_HELLO:
		return handle_hello(c, m);
	case QUEUE_AGENT_DRAIN:
		if (!c->agent || !queue_empty_get(m))
			return false;
		sched_agent_drain(c->cid);
		return true;
	case QUEUE_DMARC_RECORD:
		return handle_dmarc(c, m);
	case QUEUE_TLSRPT_RECORD:
		return handle_tlsrpt(c, m);
	case QUEUE_JOB_RES:
		return c->agent && sched_job_result(c->cid, m);
	case QUEUE_STATUS_REQ:
		return handle_status(c, m);
	default:
		return false;
	}
}

static void on_read(evutil_socket_t fd, short what, void *p)
{
	struct client *c = p;
	if (ipc_conn_read(&c->conn) < 0) {
		client_close(c);
		return;
	}
	struct ipc_msg m;
	int r;
	uint64_t cid = c->cid;
	while ((r = ipc_conn_next(&c->conn, &m)) == 1) {
		bool ok = handle(c, &m);
		if (!ok)
			log_warn("queue.sock: unexpected or malformed message type %u from uid %u; "
				 "closing", m.hdr.type, c->uid);
		ipc_msg_free(&m);
		if (!ok || !find_client(cid)) {
			if (find_client(cid)) {
				client_flush(c);	/* a refusal may be waiting */
				client_close(c);
			}
			return;
		}
	}
	client_flush(c);
	if (r < 0 || c->conn.eof || c->conn.failed)
		client_close(c);
}

static void on_write(evutil_socket_t fd, short what, void *p)
{
	client_flush(p);
}

static void on_accept(int s, struct sockaddr *sa, int salen, void *p)
{
	unsigned uid;
	int pid;
	if (nclients >= MAX_CLIENTS) {
		log_warn("queue.sock: %u connections open, refusing more", nclients);
		close(s);
		return;
	}
	if (ipc_peer_uid(s, &uid, &pid) < 0) {
		close(s);
		return;
	}
	nclients++;
	struct client *c = xcalloc(1, sizeof *c);
	c->cid = next_cid++;
	c->uid = uid;
	c->pid = pid;
	c->admin = uid == 0 || uid == owner_uid || uid == getuid();
	c->trusted = c->admin;
	for (size_t i = 0; i < ntrusted; i++)
		c->trusted |= uid == trusted_uids[i];
	ipc_conn_init(&c->conn, s);
	c->ev_rd = event_new(qbase, s, EV_READ | EV_PERSIST, on_read, c);
	c->ev_wr = event_new(qbase, s, EV_WRITE, on_write, c);
	event_add(c->ev_rd, NULL);
	c->next = clients;
	clients = c;
}

static void note_accounts(void)
{
	static const char *accts[] = { ACCT_SMTPD, ACCT_QUEUED, ACCT_DELIVERD, ACCT_POP3D,
				       ACCT_IMAPD, ACCT_HTTPD, ACCT_AUTHD, ACCT_MAILSTORE };
	for (size_t i = 0; i < ARRAY_LEN(accts); i++) {
		struct passwd *pw = getpwnam(accts[i]);
		if (pw && ntrusted < ARRAY_LEN(trusted_uids))
			trusted_uids[ntrusted++] = pw->pw_uid;
	}
}

int server_bind(const char *path)
{
	int s = ipc_listen(path, 0666);
	if (s >= 0)
		fd_nonblock(s);
	return s;
}

void server_start(int lfd, unsigned owner, const unsigned char *key)
{
	note_accounts();
	owner_uid = owner;
	agent_key = key;
	if (!key)
		log_warn("no agent key (TERN_AGENT_KEY_FD): no delivery agent can connect; "
			 "start the suite with `mailctl start`");
	(void)listener_new(qbase, lfd, "queue.sock", on_accept, NULL);
}
