/* bounce.c — failure and delay DSNs to the envelope sender, queued durably as
 * new messages (flag QF_BOUNCE, null sender, so a DSN never causes another). */
#include "queued/queued.h"
#include "queued/dsn.h"
#include "queued/qindex.h"
#include "common/log.h"
#include "common/queue_proto.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const kind_name[] = { "non-delivery", "delay", "delivery" };

static bool wants(const struct qmsg *m, const struct qrcpt *r, uint32_t bit)
{
	if (!*m->sender || (m->flags & QF_BOUNCE) || (r->notify & DSN_NOTIFY_NEVER))
		return false;
	/* Without NOTIFY, failures are reported and delays too (RFC 3461 4.1). */
	return r->notify == 0 || (r->notify & bit);
}

/* Original content for the report: the whole message, or only as much as
 * needed for the headers when it is large or RET=HDRS. */
static char *read_original(const struct qmsg *m, bool want_full, size_t *len, bool *full)
{
	*full = want_full && m->size <= qconf.bounce_size_limit;
	size_t n = *full ? (size_t)m->size : (size_t)(m->size < 262144 ? m->size : 262144);
	char *buf = xmalloc(n + 1);
	char *p = spool_path("msg", m->id);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	free(p);
	ssize_t got = fd >= 0 ? pread(fd, buf, n, 0) : -1;
	if (fd >= 0)
		close(fd);
	*len = got > 0 ? (size_t)got : 0;
	return buf;
}

static void queued_flushed(void *arg, int err)
{
	struct qmsg *b = arg;
	struct qent *e = store_add(b);
	free(b);
	sched_kick(e);
}

/* Queue the DSN; false if it could not be written (retried later). */
static bool send_dsn(struct qent *e, enum dsn_kind kind, const uint32_t *idx, uint32_t n)
{
	const struct qmsg *m = &e->m;
	/* Failures return the message unless RET=HDRS; other reports return it
	 * only with RET=FULL (RFC 3461 4.3). */
	bool want_full = kind == DSN_FAILED ? m->ret != 2 : m->ret == 1;
	/* RFC 8689 5: a report on a REQUIRETLS message carries its headers only
	 * (the body is not ours to send where TLS may not hold) and asks for
	 * REQUIRETLS itself */
	if (m->flags & QF_REQUIRETLS)
		want_full = false;
	bool full;
	size_t olen, dlen;
	char *orig = read_original(m, want_full, &olen, &full);
	struct dsn_input in = { .m = m, .hostname = qconf.hostname, .kind = kind, .rcpts = idx,
				.nrcpt = n, .original = orig, .original_len = olen, .full = full,
				.now = time(NULL) };
	char *text = dsn_build(&in, &dlen);
	free(orig);

	struct qmsg *b = xcalloc(1, sizeof *b);
	b->sender = xstrdup("");
	b->flags = QF_BOUNCE | (m->flags & QF_REQUIRETLS);
	b->envid = xstrdup("");
	b->client = xasprintf("bounce of %s", m->id);
	b->authuser = xstrdup("");
	b->arrival = unix_now();
	qmsg_add_rcpt(b, m->sender, "", DSN_NOTIFY_NEVER)->next_attempt = b->arrival;
	int err = spool_write_message(b, text, dlen);
	free(text);
	if (!err && qindex_put(b) < 0) {
		err = errno;
		char *p = spool_path("msg", b->id);
		unlink(p);
		free(p);
	}
	if (err) {
		log_err("%s: cannot queue %s notification: %s", m->id, kind_name[kind], strerror(err));
		qmsg_free(b);
		free(b);
		return false;
	}
	log_info("%s: sender %s notification: %s", m->id, kind_name[kind], b->id);
	flush_mark_dir();
	flush_later(queued_flushed, b);
	return true;
}

static void check_failed(struct qent *e)
{
	struct qmsg *m = &e->m;
	uint32_t *idx = xmalloc((m->nrcpt + 1) * sizeof *idx);
	uint32_t n = 0;
	bool any = false;
	for (uint32_t i = 0; i < m->nrcpt; i++) {
		struct qrcpt *r = &m->rcpt[i];
		if (r->state != RS_BOUNCED || r->reported)
			continue;
		any = true;
		if (wants(m, r, DSN_NOTIFY_FAILURE))
			idx[n++] = i;
	}
	if (any && (!n || send_dsn(e, DSN_FAILED, idx, n))) {
		for (uint32_t i = 0; i < m->nrcpt; i++)
			if (m->rcpt[i].state == RS_BOUNCED)
				m->rcpt[i].reported = 1;
		if (!n && *m->sender == 0)
			log_info("%s: undeliverable message with null sender: no notification", m->id);
		store_save(e);
	}
	free(idx);
}

static void check_delayed(struct qent *e, uint64_t now)
{
	struct qmsg *m = &e->m;
	if (m->warned || !qconf.delay_warning || now < m->arrival + qconf.delay_warning)
		return;
	uint32_t *idx = xmalloc((m->nrcpt + 1) * sizeof *idx);
	uint32_t n = 0;
	for (uint32_t i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].state == RS_DEFERRED && wants(m, &m->rcpt[i], DSN_NOTIFY_DELAY))
			idx[n++] = i;
	if (n && send_dsn(e, DSN_DELAYED, idx, n)) {
		m->warned = 1;
		store_save(e);
	}
	free(idx);
}

/* NOTIFY=SUCCESS recipients delivered here (reported == QREPORT_SUCCESS_DUE,
 * set by the scheduler for local deliveries) get a "delivered" report. */
static void check_success(struct qent *e)
{
	struct qmsg *m = &e->m;
	uint32_t *idx = xmalloc((m->nrcpt + 1) * sizeof *idx);
	uint32_t n = 0;
	for (uint32_t i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].state == RS_DELIVERED && m->rcpt[i].reported == QREPORT_SUCCESS_DUE)
			idx[n++] = i;
	if (n && (!*m->sender || (m->flags & QF_BOUNCE) || send_dsn(e, DSN_DELIVERED, idx, n))) {
		for (uint32_t k = 0; k < n; k++)
			m->rcpt[idx[k]].reported = 1;
		store_save(e);
	}
	free(idx);
}

void bounce_check(struct qent *e, uint64_t now)
{
	check_success(e);
	check_failed(e);
	check_delayed(e, now);
}
