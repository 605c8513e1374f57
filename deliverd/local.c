/* local.c — the local delivery agent: takes QUEUE_JOBs from queued, expands each
 * recipient through the auth service (aliases, catch-all, +detail) unless the
 * job carries the expansion of queued's routing lookup, and writes
 * the message into every resulting Maildir on worker threads, so several
 * deliveries run at once; remote alias targets get a forwarded copy through the
 * queue (forward.c). One result per recipient goes back to queued. */
#include "deliverd/deliverd.h"
#include "deliverd/agent.h"
#include "deliverd/forward.h"
#include "deliverd/maildir.h"
#include "deliverd/vacation.h"
#include "common/auth_client.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/queue_codec.h"
#include "common/queue_proto.h"
#include "common/util.h"
#include "common/workq.h"

#include <errno.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct lrcpt {
	uint32_t idx;
	char *addr;
	bool decided;		/* result already known (expansion failed) */
	struct mresult res;
	struct auth_mailbox *boxes;	/* remote ones are forwarded */
	size_t nbox;
};

struct ljob {
	uint64_t gen;		/* queue connection generation it came from */
	char id[32];
	char *sender;
	uint32_t flags;
	char *prepend;		/* header fields to put on top (Authentication-Results) */
	uint64_t size;
	int fd;
	uint32_t n;
	struct lrcpt *r;
	unsigned pending;	/* expansions outstanding */
};

struct expand_ctx {
	struct ljob *j;
	uint32_t k;
	unsigned tries;
	struct event *retry;
};

#define EXPAND_TRIES 10	/* auth service unreachable: ask again each second, then defer */

static struct dconf *conf;
static struct event_base *base;
static struct auth_client *auth;
static struct workq *work;
static struct agent *agent;	/* the queue connection (agent.c) */
static char *queue_sock;	/* for forwarded copies */

static void decide(struct lrcpt *r, int result, const char *status, const char *text)
{
	r->decided = true;
	r->res.result = result;
	strlcpy_t(r->res.status, status, sizeof r->res.status);
	strlcpy_t(r->res.text, text, sizeof r->res.text);
}

/* ---- worker side ---- */

static int rank(int result)
{
	return result == MD_DEFER ? 2 : result == MD_BOUNCE ? 1 : 0;
}

/* Keep the worse of r->res and mr (defer beats bounce beats delivered). */
static void merge_result(struct lrcpt *r, const struct mresult *mr, bool first)
{
	if (first || rank(mr->result) > rank(r->res.result))
		r->res = *mr;
}

/* The remote targets of r, forwarded in one queued copy. */
static void forward_rcpt(struct ljob *j, struct lrcpt *r, bool first)
{
	const char **targets = xcalloc(r->nbox, sizeof *targets);
	size_t n = 0;
	for (uint32_t b = 0; b < r->nbox; b++)
		if (r->boxes[b].remote)
			targets[n++] = r->boxes[b].mailbox;
	const struct forward f = { .queue_sock = queue_sock, .alias = r->addr, .sender = j->sender,
				   .qid = j->id, .flags = j->flags, .prepend = j->prepend,
				   .fd = j->fd, .size = j->size, .targets = targets, .ntargets = n,
				   .max_hops = conf->max_hops };
	struct mresult mr;
	forward_deliver(&f, &mr);
	log_info("%s: to=<%s>, relay=forward, status=%s (%s)", j->id, r->addr,
		 mr.result == MD_DELIVERED ? "sent" : mr.result == MD_DEFER ? "deferred" : "bounced",
		 mr.text);
	merge_result(r, &mr, first);
	free(targets);
}

/* The user's vacation response, if it is on (vacation.h). */
static void answer_vacation(const struct ljob *j, const char *mailbox)
{
	const struct vacation_in v = { .queue_sock = queue_sock, .mail_dir = conf->mail_dir,
				       .mailbox = mailbox, .sender = j->sender, .qid = j->id,
				       .hostname = conf->hostname, .flags = j->flags, .fd = j->fd,
				       .size = j->size };
	vacation_reply(&v);
}

static void deliver_rcpt(struct ljob *j, struct lrcpt *r)
{
	uint32_t nlocal = 0, nremote = 0;
	for (uint32_t b = 0; b < r->nbox; b++) {
		struct auth_mailbox *bx = &r->boxes[b];
		if (bx->remote) {
			nremote++;
			continue;
		}
		struct mresult mr;
		unsigned hops;
		bool looped;
		maildir_scan_header(j->fd, j->size, bx->mailbox, &hops, &looped);
		if (looped || hops > conf->max_hops) {
			memset(&mr, 0, sizeof mr);
			mr.result = MD_BOUNCE;
			strlcpy_t(mr.status, "5.4.6", sizeof mr.status);
			if (looped)
				snprintf(mr.text, sizeof mr.text, "mail forwarding loop for %s", bx->mailbox);
			else
				snprintf(mr.text, sizeof mr.text, "too many hops (%u) delivering to %s",
					 hops, bx->mailbox);
		} else {
			/* Quarantined mail goes to Junk (when the mailbox has one). */
			const char *folder = (j->flags & QF_QUARANTINE) ? "Junk" : bx->folder;
			struct mdeliver d = { .mail_dir = conf->mail_dir, .mailbox = bx->mailbox,
					      .folder = folder, .sender = j->sender, .qid = j->id,
					      .prepend = j->prepend,
					      .hostname = conf->hostname, .fd = j->fd, .size = j->size,
					      .quota = bx->quota, .quota_bounce = conf->quota_bounce,
					      .crypt = &conf->crypt };
			maildir_deliver(&d, &mr);
			if (mr.result == MD_DELIVERED)
				answer_vacation(j, bx->mailbox);
		}
		log_info("%s: to=<%s>, orig_to=<%s>, relay=local, status=%s (%s)", j->id, bx->mailbox,
			 r->addr, mr.result == MD_DELIVERED ? "sent" : mr.result == MD_DEFER
			 ? "deferred" : "bounced", mr.text);
		/* Defer beats bounce beats delivered: a retry is idempotent. */
		merge_result(r, &mr, nlocal++ == 0);
	}
	if (nlocal > 1 && r->res.result == MD_DELIVERED)
		snprintf(r->res.text, sizeof r->res.text, "delivered to %u mailboxes", nlocal);
	/* Forward after the local mailboxes, and not while they defer: the retry
	 * then forwards once, when the local part has gone through. */
	if (nremote && (nlocal == 0 || r->res.result != MD_DEFER))
		forward_rcpt(j, r, nlocal == 0);
}

static void job_work(void *arg)
{
	struct ljob *j = arg;
	for (uint32_t k = 0; k < j->n; k++)
		if (!j->r[k].decided)
			deliver_rcpt(j, &j->r[k]);
}

/* ---- loop side ---- */

static void free_job(struct ljob *j)
{
	for (uint32_t k = 0; k < j->n; k++) {
		auth_boxes_free(j->r[k].boxes, j->r[k].nbox);
		free(j->r[k].addr);
	}
	free(j->r);
	free(j->sender);
	free(j->prepend);
	if (j->fd >= 0)
		close(j->fd);
	free(j);
}

static void job_done(void *arg)
{
	struct ljob *j = arg;
	struct ipc_msg m;
	agent_result_begin(&m, j->id, j->n);
	for (uint32_t k = 0; k < j->n; k++)
		agent_result_add(&m, j->r[k].idx, j->r[k].res.result, j->r[k].res.status,
				 j->r[k].res.text);
	agent_reply(agent, j->gen, &m);	/* dropped if queued reconnected meanwhile */
	free_job(j);
}

static void expand_cb(const struct auth_reply *rep, void *arg);

static void expand_send(evutil_socket_t fd, short what, void *arg)
{
	struct expand_ctx *c = arg;
	struct ipc_msg req;
	c->tries++;
	auth_req_expand(&req, 0, c->j->r[c->k].addr);
	auth_client_call(auth, &req, expand_cb, c);
}

static void expand_cb(const struct auth_reply *rep, void *arg)
{
	struct expand_ctx *c = arg;
	struct ljob *j = c->j;
	struct lrcpt *r = &j->r[c->k];
	if (rep->tempfail && c->tries < EXPAND_TRIES) {
		/* The service is restarting (the master brings it back within a
		 * second or two): a short wait beats a deferral with back-off. */
		struct timeval tv = { 1, 0 };
		if (!c->retry)
			c->retry = evtimer_new(base, expand_send, c);
		evtimer_add(c->retry, &tv);
		return;
	}
	if (c->retry)
		event_free(c->retry);
	free(c);
	if (rep->tempfail || rep->result == EXPAND_TEMPFAIL) {
		decide(r, MD_DEFER, "4.3.0", rep->tempfail ? "auth service unavailable"
		       : "address expansion failed temporarily");
	} else if (rep->result == EXPAND_LOOP) {
		decide(r, MD_BOUNCE, "5.4.6", "alias loop or alias nesting too deep");
	} else if (rep->result != EXPAND_OK || rep->n == 0) {
		decide(r, MD_BOUNCE, "5.1.1", "unknown user: no such mailbox");
	} else {
		/* the reply's decoder refused more than AUTH_MAX_BOXES */
		r->boxes = auth_boxes_dup(rep->boxes, rep->n);
		r->nbox = rep->n;
	}
	if (--j->pending == 0)
		workq_submit(work, job_work, job_done, j);
}

static bool on_job(struct ipc_msg *m, uint64_t gen, void *arg)
{
	struct queue_job q;
	if (!queue_job_get(m, &q))
		return false;
	struct ljob *j = xcalloc(1, sizeof *j);
	j->gen = gen;
	j->fd = q.fd;
	strlcpy_t(j->id, q.qid, sizeof j->id);
	j->sender = xstrdup(q.sender);
	j->flags = q.flags;
	j->size = q.size;
	j->prepend = xstrdup(q.prepend);
	/* envid, orcpt, notify: DSNs are queued's business; hop: the remote agent's */
	j->r = xcalloc(q.nrcpt, sizeof *j->r);
	for (uint32_t k = 0; k < q.nrcpt; k++) {
		struct lrcpt *r = &j->r[k];
		r->idx = q.rcpt[k].idx;
		r->addr = xstrdup(q.rcpt[k].addr);
		/* The queue's routing lookup expanded it already (none: ask). */
		r->boxes = q.rcpt[k].boxes;
		r->nbox = q.rcpt[k].nbox;
		q.rcpt[k].boxes = NULL;
		q.rcpt[k].nbox = 0;
		j->pending += r->nbox == 0;
	}
	j->n = q.nrcpt;
	queue_job_done(&q);
	if (j->pending == 0) {
		workq_submit(work, job_work, job_done, j);
		return true;
	}
	for (uint32_t k = 0; k < j->n; k++) {
		if (j->r[k].nbox)
			continue;
		struct expand_ctx *c = xcalloc(1, sizeof *c);
		c->j = j;
		c->k = k;
		expand_send(-1, 0, c);
	}
	return true;
}

struct agent *local_run(struct dconf *c, struct event_base *b, const char *qsock,
			const char *asock)
{
	conf = c;
	base = b;
	queue_sock = xstrdup(qsock);
	auth = auth_client_new(base, asock, 30000);
	work = workq_new(base, (int)c->workers);
	agent = agent_new(base, qsock, QT_LOCAL, "local", on_job, NULL);
	return agent;
}
