/* status.c — per-recipient delivery status for the user who submitted a
 * message (QUEUE_STATUS_REQ, queue_proto.h; JMAP EmailSubmission's
 * deliveryStatus). A message still queued answers from its record; once
 * finished, its record and file are gone, so the outcome of each message an
 * authenticated user submitted is remembered here, in memory only and
 * bounded (the newest DONE_MAX messages within DONE_MAX_BYTES): httpd keeps
 * the final answer it got, so a queued restart loses only outcomes no one
 * asked for yet (they then read as unknown). */
#include "queued/queued.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/queue_codec.h"
#include "common/queue_proto.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

#define DONE_MAX 4096
#define DONE_MAX_BYTES (8u << 20)
#define DONE_TEXT_MAX 512	/* of the reply kept per recipient */

struct done_rcpt {
	char *addr, *status, *text;
	uint32_t delivered;
};

struct done {
	char id[QID_LEN + 1];
	char *user;
	uint32_t n;
	struct done_rcpt *r;
	size_t bytes;
	struct done *next;
};

static struct done *oldest, *newest;
static size_t ndone, done_bytes;

static uint32_t delivered_of(uint32_t state, bool local)
{
	switch (state) {
	case RS_DELIVERED:
		return local ? QD_YES : QD_UNKNOWN;
	case RS_BOUNCED:
		return QD_NO;
	default:
		return QD_QUEUED;
	}
}

static void done_free(struct done *d)
{
	for (uint32_t i = 0; i < d->n; i++) {
		free(d->r[i].addr);
		free(d->r[i].status);
		free(d->r[i].text);
	}
	free(d->r);
	free(d->user);
	free(d);
}

static void drop_oldest(void)
{
	struct done *d = oldest;
	oldest = d->next;
	if (!oldest)
		newest = NULL;
	ndone--;
	done_bytes -= d->bytes;
	done_free(d);
}

static char *dup_max(const char *s, size_t max, size_t *bytes)
{
	size_t n = strnlen(s, max);
	*bytes += n + 1;
	return xstrndup(s, n);
}

void status_remember(const struct qent *e)
{
	if (!(e->m.flags & QF_AUTH) || !e->m.authuser || !*e->m.authuser || e->deleted)
		return;
	struct done *d = xcalloc(1, sizeof *d);
	memcpy(d->id, e->m.id, sizeof d->id);
	d->bytes = sizeof *d + e->m.nrcpt * sizeof *d->r;
	d->user = dup_max(e->m.authuser, QUEUE_MAX_FIELD, &d->bytes);
	d->n = e->m.nrcpt;
	d->r = xcalloc(d->n ? d->n : 1, sizeof *d->r);
	for (uint32_t i = 0; i < d->n; i++) {
		const struct qrcpt *q = &e->m.rcpt[i];
		d->r[i].addr = dup_max(q->addr, QUEUE_MAX_FIELD, &d->bytes);
		d->r[i].status = dup_max(q->status, QUEUE_MAX_STATUS, &d->bytes);
		d->r[i].text = dup_max(q->reason, DONE_TEXT_MAX, &d->bytes);
		d->r[i].delivered = delivered_of(q->state, e->local && e->local[i]);
	}
	if (newest)
		newest->next = d;
	else
		oldest = d;
	newest = d;
	ndone++;
	done_bytes += d->bytes;
	while (oldest && oldest != newest && (ndone > DONE_MAX || done_bytes > DONE_MAX_BYTES))
		drop_oldest();
}

static struct done *done_get(const char *id)
{
	for (struct done *d = oldest; d; d = d->next)
		if (!strcmp(d->id, id))
			return d;
	return NULL;
}

/* A string as the answer carries it: cut at max bytes. */
static const char *cut(const char *s, size_t max, char *buf)
{
	if (strlen(s) <= max)
		return s;
	memcpy(buf, s, max);
	buf[max] = '\0';
	return buf;
}

static void put_rcpt(struct ipc_msg *res, const char *addr, uint32_t delivered,
		     const char *status, const char *text)
{
	static char a[QUEUE_MAX_FIELD + 1], s[QUEUE_MAX_STATUS + 1], t[QUEUE_MAX_FIELD + 1];
	struct queue_rcpt_status r = {
		.addr = cut(addr, QUEUE_MAX_FIELD, a), .delivered = delivered,
		.status = cut(status, QUEUE_MAX_STATUS, s), .text = cut(text, QUEUE_MAX_FIELD, t),
	};
	queue_status_res_put_one(res, &r);
}

bool status_answer(struct ipc_msg *req, struct ipc_msg *res, unsigned uid)
{
	const char *id, *user;
	if (!queue_status_req_get(req, &id, &user))
		return false;
	struct qent *e = store_get(id);
	struct done *d = e ? NULL : done_get(id);
	bool live = e && !e->deleted && (e->m.flags & QF_AUTH) && !strcmp(e->m.authuser, user);
	bool past = d && !strcmp(d->user, user);
	if ((e && !live) || (d && !past))
		log_info("%s: delivery status refused to uid %u for user %s: not the submitter", id,
			 uid, user);
	if (!live && !past) {
		queue_status_res_put(res, QS_NOTFOUND, 0);
		return true;
	}
	queue_status_res_put(res, QS_OK, live ? e->m.nrcpt : d->n);
	for (uint32_t i = 0; live && i < e->m.nrcpt; i++) {
		const struct qrcpt *q = &e->m.rcpt[i];
		put_rcpt(res, q->addr, delivered_of(q->state, e->local && e->local[i]), q->status,
			 q->reason);
	}
	for (uint32_t i = 0; past && i < d->n; i++)
		put_rcpt(res, d->r[i].addr, d->r[i].delivered, d->r[i].status, d->r[i].text);
	return true;
}
