/* admin.c — `mailctl queue ...` commands (QUEUE_ADMIN_REQ). */
#include "queued/queued.h"
#include "common/log.h"
#include "common/queue_proto.h"
#include "common/strbuf.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct out {
	char **lines;
	uint32_t n;
	const char *arg;
	unsigned hits;
};

static void add(struct out *o, char *line)
{
	o->lines = xrealloc(o->lines, (o->n + 1) * sizeof *o->lines);
	o->lines[o->n++] = line;
}

static char *age_str(uint64_t secs)
{
	if (secs < 120)
		return xasprintf("%llus", (unsigned long long)secs);
	if (secs < 7200)
		return xasprintf("%llum", (unsigned long long)secs / 60);
	if (secs < 172800)
		return xasprintf("%lluh", (unsigned long long)secs / 3600);
	return xasprintf("%llud", (unsigned long long)secs / 86400);
}

static const char *msg_state(const struct qent *e, uint64_t *next)
{
	*next = UINT64_MAX;
	bool active = false, deferred = false;
	for (uint32_t i = 0; i < e->m.nrcpt; i++) {
		const struct qrcpt *r = &e->m.rcpt[i];
		if (e->inflight[i] != IF_IDLE)
			active = true;
		if (r->state == RS_PENDING || r->state == RS_DEFERRED) {
			deferred |= r->state == RS_DEFERRED;
			if (r->next_attempt < *next)
				*next = r->next_attempt;
		}
	}
	if (e->m.held)
		return "held";
	if (active)
		return "active";
	if (sched_paused)
		return "paused";
	return deferred ? "deferred" : "pending";
}

static void list_one(struct qent *e, void *arg)
{
	struct out *o = arg;
	if (e->removing)
		return;
	uint64_t now = unix_now(), next;
	const char *st = msg_state(e, &next);
	struct strbuf rcpts = { 0 };
	for (uint32_t i = 0; i < e->m.nrcpt; i++) {
		const struct qrcpt *r = &e->m.rcpt[i];
		if (r->state == RS_DELIVERED || r->state == RS_BOUNCED)
			continue;
		if (rcpts.len)
			strbuf_addc(&rcpts, ',');
		strbuf_adds(&rcpts, r->addr);
	}
	char *age = age_str(now - e->m.arrival);
	char *nx = next == UINT64_MAX ? xstrdup("-") : next <= now ? xstrdup("now")
				       : age_str(next - now);
	add(o, xasprintf("%s %llu %s <%s> %s %s %s", e->m.id, (unsigned long long)e->m.size, age,
			 e->m.sender, rcpts.len ? rcpts.p : "-", st, nx));
	free(age);
	free(nx);
	strbuf_free(&rcpts);
}

static const char *rstate(uint32_t s)
{
	static const char *names[] = { "pending", "delivered", "deferred", "bounced" };
	return s <= RS_BOUNCED ? names[s] : "?";
}

static int show(struct out *o, const char *id)
{
	struct qent *e = store_get(id);
	if (!e || e->removing) {
		add(o, xasprintf("%s: no such message", id));
		return QS_NOTFOUND;
	}
	uint64_t next, now = unix_now();
	const struct qmsg *m = &e->m;
	add(o, xasprintf("id: %s", m->id));
	add(o, xasprintf("state: %s", msg_state(e, &next)));
	add(o, xasprintf("sender: <%s>", m->sender));
	add(o, xasprintf("size: %llu", (unsigned long long)m->size));
	char *age = age_str(now - m->arrival);
	add(o, xasprintf("arrival: %llu (%s ago)", (unsigned long long)m->arrival, age));
	free(age);
	add(o, xasprintf("client: %s", m->client));
	if (*m->authuser)
		add(o, xasprintf("sasl_username: %s", m->authuser));
	add(o, xasprintf("flags: %s%s%s%s%s%s%s", m->flags & QF_8BITMIME ? " 8bitmime" : "",
			 m->flags & QF_SMTPUTF8 ? " smtputf8" : "", m->flags & QF_BOUNCE ? " bounce" : "",
			 m->flags & QF_AUTH ? " auth" : "", m->flags & QF_LOCAL ? " local" : "",
			 m->flags & QF_REQUIRETLS ? " requiretls" : "",
			 m->flags & QF_TLS_OPTIONAL ? " tls-required-no" : ""));
	if (*m->envid)
		add(o, xasprintf("envid: %s", m->envid));
	add(o, xasprintf("ret: %s", m->ret == 1 ? "full" : m->ret == 2 ? "hdrs" : "-"));
	for (uint32_t i = 0; i < m->nrcpt; i++) {
		const struct qrcpt *r = &m->rcpt[i];
		char *nx = r->state == RS_DEFERRED || r->state == RS_PENDING
			? (r->next_attempt <= now ? xstrdup("now") : age_str(r->next_attempt - now))
			: xstrdup("-");
		add(o, xasprintf("rcpt: <%s> %s attempts=%u next=%s status=%s reason=%s", r->addr,
				 rstate(r->state), r->attempts, nx, *r->status ? r->status : "-",
				 *r->reason ? r->reason : "-"));
		free(nx);
	}
	return QS_OK;
}

enum op { OP_HOLD, OP_RELEASE, OP_DELETE };

static void apply(struct qent *e, enum op op)
{
	if (e->removing)
		return;
	switch (op) {
	case OP_HOLD:
		e->m.held = 1;
		store_save(e);
		log_info("%s: held by administrator", e->m.id);
		break;
	case OP_RELEASE:
		if (!e->m.held)
			return;
		e->m.held = 0;
		store_save(e);
		log_info("%s: released by administrator", e->m.id);
		sched_kick(e);
		break;
	case OP_DELETE:
		e->deleted = true;
		log_info("%s: deleted by administrator", e->m.id);
		if (!e->busy)
			store_finish(e);
		break;
	}
}

struct each_op {
	enum op op;
	unsigned n;
};

static void apply_each(struct qent *e, void *arg)
{
	struct each_op *x = arg;
	if (!e->removing) {
		apply(e, x->op);
		x->n++;
	}
}

static int by_id(struct out *o, enum op op, const char *arg)
{
	static const char *verbs[] = { "held", "released", "deleted" };
	if (!strcmp(arg, "all")) {
		struct each_op x = { op, 0 };
		store_each(apply_each, &x);
		add(o, xasprintf("%u message(s) %s", x.n, verbs[op]));
		sched_rearm();
		return QS_OK;
	}
	struct qent *e = store_get(arg);
	if (!e || e->removing) {
		add(o, xasprintf("%s: no such message", arg));
		return QS_NOTFOUND;
	}
	apply(e, op);
	sched_rearm();
	add(o, xasprintf("%s: %s", arg, verbs[op]));
	return QS_OK;
}

static void flush_one(struct qent *e, void *arg)
{
	uint64_t now = unix_now();
	for (uint32_t i = 0; i < e->m.nrcpt; i++)
		if (e->m.rcpt[i].state == RS_DEFERRED && e->m.rcpt[i].next_attempt > now)
			e->m.rcpt[i].next_attempt = now;
	(*(unsigned *)arg)++;
}

int admin_run(const char *cmd, const char *arg, char ***lines, uint32_t *n)
{
	struct out o = { 0 };
	int st = QS_OK;
	if (!strcmp(cmd, "list")) {
		store_each(list_one, &o);
	} else if (!strcmp(cmd, "show")) {
		st = show(&o, arg);
	} else if (!strcmp(cmd, "hold")) {
		st = by_id(&o, OP_HOLD, arg);
	} else if (!strcmp(cmd, "release")) {
		st = by_id(&o, OP_RELEASE, arg);
	} else if (!strcmp(cmd, "delete")) {
		st = by_id(&o, OP_DELETE, arg);
	} else if (!strcmp(cmd, "flush")) {
		unsigned k = 0;
		store_each(flush_one, &k);
		log_info("flush requested: %u message(s)", k);
		sched_kick_all();
		add(&o, xasprintf("%u message(s) scheduled for immediate delivery", k));
	} else if (!strcmp(cmd, "pause") || !strcmp(cmd, "resume")) {
		sched_set_paused(!strcmp(cmd, "pause"));
		add(&o, xstrdup(sched_paused ? "deliveries paused" : "deliveries resumed"));
	} else if (!strcmp(cmd, "rebuild")) {
		char summary[512];
		store_recover(false, summary, sizeof summary);
		sched_kick_all();
		add(&o, xstrdup(summary));
	} else {
		add(&o, xasprintf("unknown queue command \"%s\"", cmd));
		st = QS_REJECT;
	}
	*lines = o.lines;
	*n = o.n;
	return st;
}
