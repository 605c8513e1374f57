/* sched.c — delivery scheduling. A message is routed the moment it is committed
 * (no polling): each due recipient is looked up at the auth service (local,
 * remote, unknown; a local one's mailboxes with it), then handed to a delivery agent as a QUEUE_JOB. Results
 * update the recipients; deferrals retry with exponential back-off until the
 * queue lifetime ends, then bounce. One timer, set to the earliest due time. */
#include "queued/queued.h"
#include "common/auth_client.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/queue_codec.h"
#include "common/queue_proto.h"
#include "common/util.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

bool sched_paused;

struct agent {
	uint64_t cid;
	uint32_t transport;
	unsigned jobs;
	bool draining;		/* QUEUE_AGENT_DRAIN: no new jobs */
	struct agent *next;
};

struct job {
	uint64_t cid;
	char id[QID_LEN + 1];
	uint32_t n;
	uint32_t *idx;
	struct job *next;
};

struct route_ctx {
	struct qent *e;
	uint32_t i;
};

struct waitent {
	char id[QID_LEN + 1];
	struct waitent *next;
};

#define RETRY_SOON 5	/* seconds: the service or agent failed, not the delivery */
/* Bytes of routed expansions one QUEUE_JOB carries (a message to many big
 * lists would pass IPC_MAX_PAYLOAD); recipients past it are expanded by the
 * agent, as they were before the queue passed expansions on. */
#define JOB_BOXES_MAX (64 * 1024)

struct waitlist {
	struct waitent *head, **tail;
};

static struct agent *agents;
static struct job *jobs;
static struct waitlist waits[2] = { { NULL, &waits[0].head }, { NULL, &waits[1].head } };
static struct event *ev_timer;

uint64_t unix_now(void)
{
	return (uint64_t)time(NULL);
}

static struct agent *pick_agent(uint32_t transport)
{
	struct agent *best = NULL;
	for (struct agent *a = agents; a; a = a->next)
		if (a->transport == transport && !a->draining && a->jobs < qconf.agent_max_jobs &&
		    (!best || a->jobs < best->jobs))
			best = a;
	return best;
}

static bool have_agent(uint32_t transport)
{
	for (struct agent *a = agents; a; a = a->next)
		if (a->transport == transport && !a->draining)
			return true;
	return false;
}

static uint64_t backoff(uint32_t attempts)
{
	uint64_t d = qconf.min_backoff ? qconf.min_backoff : 1;
	for (uint32_t i = 1; i < attempts && d < qconf.max_backoff; i++)
		d *= 2;
	return d > qconf.max_backoff ? qconf.max_backoff : d;
}

static void set_result(struct qrcpt *r, uint32_t state, const char *status, const char *text)
{
	r->state = state;
	free(r->status);
	free(r->reason);
	r->status = xstrdup(status ? status : "");
	r->reason = xstrdup(text ? text : "");
}

static void rcpt_delivered(struct qent *e, uint32_t i, const char *status, const char *text,
			   uint32_t transport)
{
	struct qrcpt *r = &e->m.rcpt[i];
	set_result(r, RS_DELIVERED, status, text);
	e->local[i] = transport == QT_LOCAL;
	/* Final delivery here: we owe the "delivered" report NOTIFY=SUCCESS asks
	 * for. A relay passes NOTIFY on, and the next MTA reports. */
	if (transport == QT_LOCAL && (r->notify & DSN_NOTIFY_SUCCESS) && !r->reported)
		r->reported = QREPORT_SUCCESS_DUE;
	r->attempts++;
	log_info("%s: to=<%s>, delay=%llus, status=sent (%s)", e->m.id, r->addr,
		 (unsigned long long)(unix_now() - e->m.arrival), text);
}

static void rcpt_bounced(struct qent *e, uint32_t i, const char *status, const char *text)
{
	struct qrcpt *r = &e->m.rcpt[i];
	set_result(r, RS_BOUNCED, status, text);
	log_info("%s: to=<%s>, delay=%llus, dsn=%s, status=bounced (%s)", e->m.id, r->addr,
		 (unsigned long long)(unix_now() - e->m.arrival), status, text);
}

/* soft: a peer failed (auth service down, agent gone), not the delivery: try
 * again in a few seconds and do not count it as an attempt. */
static void rcpt_deferred_how(struct qent *e, uint32_t i, const char *status, const char *text,
			      bool soft)
{
	struct qrcpt *r = &e->m.rcpt[i];
	uint64_t now = unix_now();
	if (!soft)
		r->attempts++;
	if (now - e->m.arrival >= qconf.lifetime) {
		char *t = xasprintf("delivery time expired; last error: %s", text);
		rcpt_bounced(e, i, status && *status == '4' ? status : "4.4.7", t);
		free(t);
		return;
	}
	set_result(r, RS_DEFERRED, status, text);
	r->next_attempt = now + (soft ? RETRY_SOON : backoff(r->attempts));
	log_info("%s: to=<%s>, delay=%llus, dsn=%s, status=deferred (%s), retry in %llus", e->m.id,
		 r->addr, (unsigned long long)(now - e->m.arrival), status, text,
		 (unsigned long long)(r->next_attempt - now));
}

static void rcpt_deferred(struct qent *e, uint32_t i, const char *status, const char *text)
{
	rcpt_deferred_how(e, i, status, text, false);
}

/* After results: persist, report, finish. */
static void settle(struct qent *e)
{
	if (e->deleted) {
		if (!e->busy)
			store_finish(e);
		return;
	}
	store_save(e);
	bounce_check(e, unix_now());
	if (!e->busy && qmsg_done(&e->m))
		store_finish(e);
	else
		sched_rearm_one(e);
}

static void wait_for_agent(struct qent *e, uint32_t t)
{
	if (e->waiting & (1u << t))
		return;
	e->waiting |= 1u << t;
	struct waitent *w = xcalloc(1, sizeof *w);
	memcpy(w->id, e->m.id, sizeof w->id);
	*waits[t].tail = w;
	waits[t].tail = &w->next;
}

/* Messages waiting for a free agent of a transport, oldest first. */
static void kick_waiting(void)
{
	for (uint32_t t = QT_LOCAL; t <= QT_REMOTE; t++) {
		while (waits[t].head && pick_agent(t)) {
			struct waitent *w = waits[t].head;
			waits[t].head = w->next;
			if (!waits[t].head)
				waits[t].tail = &waits[t].head;
			struct qent *e = store_get(w->id);
			free(w);
			if (e) {
				e->waiting &= ~(1u << t);
				sched_kick(e);
			}
		}
	}
}

/* The recipient's mailboxes from its routing lookup, while the job's share
 * of them lasts; past it (or with none) the agent expands it itself. The
 * boxes stay e's: send_job drops them once the job is encoded. */
static void lend_expansion(struct qent *e, struct queue_job_rcpt *rc, size_t *budget)
{
	struct qexp *x = e->exp ? &e->exp[rc->idx] : NULL;
	size_t size = x && x->n ? auth_boxes_size(x->boxes, x->n) : 0;
	if (size && size <= *budget) {
		rc->boxes = x->boxes;
		rc->nbox = x->n;
		*budget -= size;
	}
}

static void send_job(struct qent *e, struct agent *a, uint8_t mark)
{
	char *path = spool_path("msg", e->m.id);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	struct job *j = xcalloc(1, sizeof *j);
	memcpy(j->id, e->m.id, sizeof j->id);
	j->cid = a->cid;
	j->idx = xmalloc(e->m.nrcpt * sizeof *j->idx);
	for (uint32_t i = 0; i < e->m.nrcpt; i++)
		if (e->inflight[i] == mark)
			j->idx[j->n++] = i;
	if (fd < 0) {
		log_err("%s: cannot open spool file: %s", e->m.id, strerror(errno));
		for (uint32_t k = 0; k < j->n; k++) {
			e->inflight[j->idx[k]] = IF_IDLE;
			rcpt_deferred(e, j->idx[k], "4.3.0", "queue file unreadable");
		}
		free(j->idx);
		free(j);
		return;
	}
	struct queue_job_rcpt *rc = xcalloc(j->n, sizeof *rc);
	size_t budget = JOB_BOXES_MAX;
	for (uint32_t k = 0; k < j->n; k++) {
		uint32_t i = j->idx[k];
		e->inflight[i] = IF_JOB;
		rc[k] = (struct queue_job_rcpt){ .idx = i, .addr = e->m.rcpt[i].addr,
			.orcpt = e->m.rcpt[i].orcpt, .notify = e->m.rcpt[i].notify,
			.hop = e->hop && e->hop[i] ? e->hop[i] : "" };
		lend_expansion(e, &rc[k], &budget);
	}
	struct ipc_msg m;
	ipc_msg_init(&m, QUEUE_JOB, 0);
	queue_job_put(&m, &(struct queue_job){ .qid = e->m.id, .sender = e->m.sender,
		.flags = e->m.flags, .size = e->m.size, .envid = e->m.envid, .ret = e->m.ret,
		.nrcpt = j->n, .rcpt = rc, .prepend = e->m.prepend ? e->m.prepend : "", .fd = fd });
	for (uint32_t k = 0; k < j->n; k++)
		store_set_exp(e, j->idx[k], NULL, 0);	/* used once: a retry routes anew */
	free(rc);
	j->next = jobs;
	jobs = j;
	a->jobs++;
	e->busy++;
	server_send(a->cid, &m);
}

/* Every lookup of e is back: hand the routed recipients to agents. */
static void dispatch_routed(struct qent *e)
{
	static const struct { uint8_t mark; uint32_t transport; } t[] = {
		{ IF_LOCAL, QT_LOCAL }, { IF_REMOTE, QT_REMOTE } };
	for (size_t k = 0; k < ARRAY_LEN(t); k++) {
		bool any = false;
		for (uint32_t i = 0; i < e->m.nrcpt; i++)
			any |= e->inflight[i] == t[k].mark;
		if (!any)
			continue;
		struct agent *a = pick_agent(t[k].transport);
		if (a) {
			send_job(e, a, t[k].mark);
			continue;
		}
		bool remote_missing = t[k].transport == QT_REMOTE && !have_agent(QT_REMOTE);
		for (uint32_t i = 0; i < e->m.nrcpt; i++) {
			if (e->inflight[i] != t[k].mark)
				continue;
			e->inflight[i] = IF_IDLE;
			if (remote_missing)
				rcpt_deferred(e, i, "4.4.1", "remote delivery unavailable: no remote "
					      "delivery agent (tern-deliverd --remote) is running");
		}
		if (!remote_missing)
			wait_for_agent(e, t[k].transport);
	}
	settle(e);
}

/* Where the remote agent takes recipient i: host, a mailbox host of the
 * site, or NULL for MX routing. Looked up anew on every attempt, so a user
 * moved to another host meanwhile goes to the new one. */
static void set_hop(struct qent *e, uint32_t i, const char *host)
{
	if (!e->hop && !host)
		return;
	if (!e->hop)
		e->hop = xcalloc(e->m.nrcpt, sizeof *e->hop);
	free(e->hop[i]);
	e->hop[i] = host ? xstrdup(host) : NULL;
}

/* A local recipient's expansion, for the job; a failed or empty one is
 * left to the agent, which asks again and decides (retry, bounce). */
static void keep_expansion(struct qent *e, uint32_t i, const struct auth_reply *reply)
{
	if (reply->tempfail || reply->result != RCPT_LOCAL || reply->expand != EXPAND_OK ||
	    reply->n == 0) {
		store_set_exp(e, i, NULL, 0);
		return;
	}
	store_set_exp(e, i, auth_boxes_dup(reply->boxes, reply->n), reply->n);
}

/* Recipient i of e is routed: mark it for its transport, or decide it
 * (unknown: bounce; lookup failed: retry); the last one dispatches. */
static void apply_route(struct qent *e, uint32_t i, const struct auth_reply *reply)
{
	uint32_t kind = reply->tempfail ? RCPT_TEMPFAIL : reply->result;
	e->inflight[i] = IF_IDLE;
	keep_expansion(e, i, reply);
	if (e->deleted) {
		/* nothing */
	} else if (kind == RCPT_LOCAL) {
		e->inflight[i] = IF_LOCAL;
	} else if (kind == RCPT_REMOTE) {
		set_hop(e, i, NULL);
		e->inflight[i] = IF_REMOTE;
	} else if (kind == RCPT_RELAY && !reply->host[0]) {
		/* A front-end user without a mailbox host: no retry can fix a
		 * directory entry, so say so now rather than at expiry. */
		rcpt_bounced(e, i, "5.3.5", "the site's directory names no mailbox host for this "
			     "recipient (a configuration error of this site)");
	} else if (kind == RCPT_RELAY) {
		set_hop(e, i, reply->host);	/* the remote agent takes it to its host */
		e->inflight[i] = IF_REMOTE;
	} else if (kind == RCPT_UNKNOWN) {
		rcpt_bounced(e, i, "5.1.1", "unknown user: recipient address rejected by the auth service");
	} else {
		rcpt_deferred_how(e, i, "4.3.0", reply->tempfail ? "auth service unavailable"
				  : "recipient lookup failed temporarily", reply->tempfail);
	}
	e->busy--;
	if (--e->routing == 0)
		dispatch_routed(e);
}

static void route_cb(const struct auth_reply *reply, void *arg)
{
	struct route_ctx *ctx = arg;
	struct qent *e = ctx->e;
	uint32_t i = ctx->i;
	free(ctx);
	apply_route(e, i, reply);
}

/* ---- routing while the commit is made durable ----
 * A new message's recipients are looked up as soon as its commit request
 * arrives, while a worker thread fsyncs the file and the group commit syncs
 * the directory and the log: the answers wait here and are applied only once
 * the message is committed (sched_kick_routed), so nothing is delivered that
 * the client was not told is queued, and the lookup is no longer between the
 * 250 and the delivery. */
struct preroute {
	struct qent *e;		/* set once committed and adopted; NULL before */
	bool dead;		/* the commit failed, or the answers are not wanted */
	uint32_t n, left;	/* recipients; lookups outstanding */
	bool *got;
	struct auth_reply *res;	/* answers that came before e */
};

struct preroute_ctx {
	struct preroute *p;
	uint32_t i;
};

static void preroute_free(struct preroute *p)
{
	for (uint32_t i = 0; i < p->n; i++)
		if (p->got[i])
			auth_reply_free(&p->res[i]);
	free(p->got);
	free(p->res);
	free(p);
}

/* Keep what route_cb reads of an answer: kind, host, expansion. */
static void reply_keep(struct auth_reply *dst, const struct auth_reply *src)
{
	memset(dst, 0, sizeof *dst);
	dst->type = src->type;
	dst->result = src->result;
	dst->tempfail = src->tempfail;
	dst->expand = src->expand;
	dst->host = xstrdup(src->host ? src->host : "");
	dst->boxes = auth_boxes_dup(src->boxes, src->n);
	dst->n = src->n;
}

static void preroute_cb(const struct auth_reply *reply, void *arg)
{
	struct preroute_ctx *ctx = arg;
	struct preroute *p = ctx->p;
	uint32_t i = ctx->i;
	free(ctx);
	p->left--;
	if (p->e) {
		struct qent *e = p->e;
		if (p->left == 0)
			preroute_free(p);
		apply_route(e, i, reply);	/* the last one may dispatch and finish e */
		return;
	}
	if (!p->dead) {
		reply_keep(&p->res[i], reply);
		p->got[i] = true;
	}
	if (p->dead && p->left == 0)
		preroute_free(p);
}

struct preroute *sched_preroute(const struct qmsg *m)
{
	if (sched_paused || !agents || m->held || m->nrcpt == 0)
		return NULL;
	struct preroute *p = xcalloc(1, sizeof *p);
	p->n = p->left = m->nrcpt;
	p->got = xcalloc(m->nrcpt, sizeof *p->got);
	p->res = xcalloc(m->nrcpt, sizeof *p->res);
	for (uint32_t i = 0; i < m->nrcpt; i++) {
		struct preroute_ctx *ctx = xmalloc(sizeof *ctx);
		ctx->p = p;
		ctx->i = i;
		auth_client_route(qauth, m->rcpt[i].addr, preroute_cb, ctx);
	}
	return p;
}

void sched_preroute_drop(struct preroute *p)
{
	if (!p)
		return;
	p->dead = true;
	if (p->left == 0)
		preroute_free(p);
}

void sched_kick_routed(struct qent *e, struct preroute *p)
{
	if (!p)
		return sched_kick(e);
	bool all_due = p->n == e->m.nrcpt;
	for (uint32_t i = 0; all_due && i < e->m.nrcpt; i++)
		all_due = e->m.rcpt[i].state == RS_PENDING && e->inflight[i] == IF_IDLE;
	if (sched_paused || e->m.held || e->deleted || e->removing || e->routing || !agents ||
	    !all_due) {
		sched_preroute_drop(p);
		return sched_kick(e);
	}
	/* As sched_kick would: every recipient is routing until its answer is applied. */
	e->routing += p->n;
	e->busy += p->n;
	for (uint32_t i = 0; i < p->n; i++)
		e->inflight[i] = IF_ROUTING;
	uint32_t n = p->n;
	bool *got = xmalloc(n * sizeof *got);
	memcpy(got, p->got, n * sizeof *got);
	struct auth_reply *res = p->res;
	p->res = xcalloc(n, sizeof *p->res);
	memset(p->got, 0, n * sizeof *p->got);
	if (p->left)
		p->e = e;	/* the answers still out go straight to e */
	else
		preroute_free(p);
	/* The last apply_route may dispatch and finish e: nothing touches e after. */
	for (uint32_t i = 0; i < n; i++) {
		if (got[i]) {
			apply_route(e, i, &res[i]);
			auth_reply_free(&res[i]);
		}
	}
	free(res);
	free(got);
}

void sched_kick(struct qent *e)
{
	if (sched_paused || e->m.held || e->deleted || e->removing || e->routing)
		return;
	if (!agents) {
		wait_for_agent(e, QT_LOCAL);	/* any agent's arrival kicks everything */
		return;
	}
	uint64_t now = unix_now();
	uint32_t due[QUEUE_MAX_RCPTS];
	uint32_t n = 0;
	for (uint32_t i = 0; i < e->m.nrcpt; i++) {
		struct qrcpt *r = &e->m.rcpt[i];
		if ((r->state == RS_PENDING || r->state == RS_DEFERRED) &&
		    e->inflight[i] == IF_IDLE && r->next_attempt <= now)
			due[n++] = i;
	}
	if (!n)
		return;
	/* Count first: a callback may run at once when authd is unreachable. */
	e->routing += n;
	e->busy += n;
	for (uint32_t k = 0; k < n; k++) {
		struct route_ctx *ctx = xmalloc(sizeof *ctx);
		ctx->e = e;
		ctx->i = due[k];
		e->inflight[due[k]] = IF_ROUTING;
		auth_client_route(qauth, e->m.rcpt[due[k]].addr, route_cb, ctx);
	}
}

static void kick_one(struct qent *e, void *arg)
{
	sched_kick(e);
}

void sched_kick_all(void)
{
	store_each(kick_one, NULL);
	sched_rearm();
}

struct next_due {
	uint64_t t;
	uint64_t now;
};

static void find_due(struct qent *e, void *arg)
{
	struct next_due *d = arg;
	if (e->m.held || e->deleted || e->removing)
		return;
	bool deferred = false;
	for (uint32_t i = 0; i < e->m.nrcpt; i++) {
		struct qrcpt *r = &e->m.rcpt[i];
		if ((r->state == RS_PENDING || r->state == RS_DEFERRED) && e->inflight[i] == IF_IDLE &&
		    !e->waiting && r->next_attempt < d->t)
			d->t = r->next_attempt;
		deferred |= r->state == RS_DEFERRED;
	}
	if (deferred && !e->m.warned && qconf.delay_warning && *e->m.sender &&
	    e->m.arrival + qconf.delay_warning < d->t)
		d->t = e->m.arrival + qconf.delay_warning;
}

/* The timer only moves earlier between full scans (which happen when it
 * fires and after bulk changes), so a result costs O(1), not O(queue). A timer
 * that fires with nothing due is harmless. */
static uint64_t armed = UINT64_MAX;

static void arm_at(uint64_t t, uint64_t now)
{
	if (t >= armed)
		return;
	armed = t;
	evtimer_del(ev_timer);
	struct timeval tv = { t > now ? (time_t)(t - now) : 0, 0 };
	evtimer_add(ev_timer, &tv);
}

void sched_rearm_one(struct qent *e)
{
	struct next_due d = { UINT64_MAX, unix_now() };
	if (sched_paused)
		return;
	find_due(e, &d);
	if (d.t != UINT64_MAX)
		arm_at(d.t, d.now);
}

void sched_rearm(void)
{
	struct next_due d = { UINT64_MAX, unix_now() };
	if (!sched_paused)
		store_each(find_due, &d);
	armed = UINT64_MAX;
	evtimer_del(ev_timer);
	if (d.t != UINT64_MAX)
		arm_at(d.t, d.now);
}

static void due_one(struct qent *e, void *arg)
{
	uint64_t now = *(uint64_t *)arg;
	if (!e->m.held && !e->deleted && !e->removing && !e->busy)
		bounce_check(e, now);
	sched_kick(e);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	uint64_t now = unix_now();
	armed = UINT64_MAX;
	store_each(due_one, &now);
	sched_rearm();
}

void sched_init(void)
{
	ev_timer = evtimer_new(qbase, on_timer, NULL);
	char *p = xasprintf("%s/paused", spool_dir);
	sched_paused = access(p, F_OK) == 0;
	free(p);
	if (sched_paused)
		log_warn("deliveries are paused (mailctl queue resume restarts them)");
}

void sched_set_paused(bool paused)
{
	char *p = xasprintf("%s/paused", spool_dir);
	if (paused) {
		int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
	} else {
		unlink(p);
	}
	free(p);
	sched_paused = paused;
	log_info("deliveries %s", paused ? "paused" : "resumed");
	if (!paused)
		sched_kick_all();
}

void sched_agent_hello(uint64_t cid, uint32_t transport)
{
	struct agent *a = xcalloc(1, sizeof *a);
	a->cid = cid;
	a->transport = transport;
	a->next = agents;
	agents = a;
	log_info("delivery agent connected (%s)", transport == QT_LOCAL ? "local" : "remote");
	kick_waiting();
	sched_kick_all();
}

static struct agent *find_agent(uint64_t cid)
{
	for (struct agent *a = agents; a; a = a->next)
		if (a->cid == cid)
			return a;
	return NULL;
}

static struct job *take_job(uint64_t cid, const char *id)
{
	for (struct job **pj = &jobs; *pj; pj = &(*pj)->next) {
		struct job *j = *pj;
		if (j->cid == cid && !strcmp(j->id, id)) {
			*pj = j->next;
			return j;
		}
	}
	return NULL;
}

/* Recipients of a finished job that got no result are deferred. */
static void close_job(struct job *j, const char *why)
{
	struct agent *a = find_agent(j->cid);
	if (a)
		a->jobs--;
	struct qent *e = store_get(j->id);
	if (e) {
		for (uint32_t k = 0; k < j->n; k++) {
			uint32_t i = j->idx[k];
			if (e->inflight[i] != IF_JOB)
				continue;
			e->inflight[i] = IF_IDLE;
			if (!e->deleted)
				rcpt_deferred_how(e, i, "4.3.0", why, true);
		}
		e->busy--;
		settle(e);
	}
	free(j->idx);
	free(j);
}

void sched_agent_drain(uint64_t cid)
{
	struct agent *a = find_agent(cid);
	if (a) {
		a->draining = true;
		log_info("delivery agent draining (%s): %u job(s) left",
			 a->transport == QT_LOCAL ? "local" : "remote", a->jobs);
	}
}

void sched_agent_gone(uint64_t cid)
{
	for (struct job **pj = &jobs; *pj;) {
		struct job *j = *pj;
		if (j->cid == cid) {
			*pj = j->next;
			close_job(j, "delivery agent disconnected");
		} else {
			pj = &j->next;
		}
	}
	for (struct agent **pa = &agents; *pa; pa = &(*pa)->next) {
		if ((*pa)->cid == cid) {
			struct agent *a = *pa;
			*pa = a->next;
			free(a);
			break;
		}
	}
	log_warn("delivery agent disconnected");
}

/* A malformed result (queue_codec.h: nothing of it is applied) makes the
 * caller close the agent's connection: every job it holds is then retried. */
bool sched_job_result(uint64_t cid, struct ipc_msg *m)
{
	const char *id;
	uint32_t n;
	struct queue_rcpt_result *r = queue_job_res_get(m, &id, &n);
	if (!r) {
		log_warn("malformed job result from a delivery agent%s%s; its jobs are retried",
			 id ? " for " : "", id ? id : "");
		return false;
	}
	struct job *j = take_job(cid, id);
	if (!j) {
		log_warn("job result for unknown job %s", id);
		free(r);
		return true;
	}
	struct qent *e = store_get(j->id);
	struct agent *a = find_agent(cid);
	for (uint32_t k = 0; k < n && e; k++) {
		uint32_t i = r[k].idx, res = r[k].result;
		const char *st = r[k].status, *text = r[k].text;
		if (i >= e->m.nrcpt || e->inflight[i] != IF_JOB)
			break;
		e->inflight[i] = IF_IDLE;
		if (e->deleted)
			continue;
		if (res == QR_DELIVERED)
			rcpt_delivered(e, i, st, text, a ? a->transport : QT_LOCAL);
		else if (res == QR_BOUNCE)
			rcpt_bounced(e, i, st, text);
		else
			rcpt_deferred(e, i, st, text);
	}
	free(r);
	close_job(j, "delivery agent returned no result");
	kick_waiting();
	return true;
}
