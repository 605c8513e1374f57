/* qrec.c — encode and decode queue records and spool-file trailers. */
#include "queued/qrec.h"
#include "common/ipc.h"
#include "common/queue_codec.h"
#include "common/queue_proto.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

unsigned char *qrec_encode(const struct qmsg *m, size_t *len)
{
	struct ipc_msg w;
	ipc_msg_init(&w, 0, 0);
	ipc_put_u32(&w, QREC_VERSION);
	ipc_put_str(&w, m->id);
	ipc_put_str(&w, m->sender);
	ipc_put_u32(&w, m->flags);
	ipc_put_str(&w, m->envid);
	ipc_put_u32(&w, m->ret);
	ipc_put_u64(&w, m->arrival);
	ipc_put_u64(&w, m->size);
	ipc_put_str(&w, m->client);
	ipc_put_str(&w, m->authuser);
	ipc_put_u32(&w, m->held);
	ipc_put_u32(&w, m->warned);
	ipc_put_u32(&w, m->nrcpt);
	for (uint32_t i = 0; i < m->nrcpt; i++) {
		const struct qrcpt *r = &m->rcpt[i];
		ipc_put_str(&w, r->addr);
		ipc_put_str(&w, r->orcpt);
		ipc_put_u32(&w, r->notify);
		ipc_put_u32(&w, r->state);
		ipc_put_u32(&w, r->attempts);
		ipc_put_u64(&w, r->next_attempt);
		ipc_put_str(&w, r->status);
		ipc_put_str(&w, r->reason);
		ipc_put_u32(&w, r->reported);
	}
	ipc_put_str(&w, m->prepend ? m->prepend : "");	/* version 2 */
	*len = w.hdr.len;
	unsigned char *out = w.data ? w.data : xmalloc(1);
	return out;
}

static char *dup_str(struct ipc_msg *r)
{
	const char *s = ipc_get_str(r, QUEUE_MAX_FIELD);
	return xstrdup(s ? s : "");
}

int qrec_decode(const unsigned char *buf, size_t len, struct qmsg *m)
{
	struct ipc_msg r;
	memset(m, 0, sizeof *m);
	if (len > IPC_MAX_PAYLOAD)
		return -1;
	ipc_msg_init(&r, 0, 0);
	r.data = xmalloc(len + 1);
	memcpy(r.data, buf, len);
	r.data[len] = 0;
	r.hdr.len = (uint32_t)len;
	r.cap = len + 1;
	uint32_t version = ipc_get_u32(&r);
	if (version != 1 && version != QREC_VERSION)
		goto bad;
	const char *id = ipc_get_str(&r, QID_LEN);
	if (!id || !queue_id_valid(id))
		goto bad;
	memcpy(m->id, id, QID_LEN + 1);
	m->sender = dup_str(&r);
	m->flags = ipc_get_u32(&r);
	m->envid = dup_str(&r);
	m->ret = ipc_get_u32(&r);
	m->arrival = ipc_get_u64(&r);
	m->size = ipc_get_u64(&r);
	m->client = dup_str(&r);
	m->authuser = dup_str(&r);
	m->held = ipc_get_u32(&r);
	m->warned = ipc_get_u32(&r);
	uint32_t n = ipc_get_u32(&r);
	if (r.bad || n > QUEUE_MAX_RCPTS)
		goto bad;
	for (uint32_t i = 0; i < n && !r.bad; i++) {
		struct qrcpt *q = qmsg_add_rcpt(m, "", "", 0);
		free(q->addr);
		free(q->orcpt);
		q->addr = dup_str(&r);
		q->orcpt = dup_str(&r);
		q->notify = ipc_get_u32(&r);
		q->state = ipc_get_u32(&r);
		q->attempts = ipc_get_u32(&r);
		q->next_attempt = ipc_get_u64(&r);
		free(q->status);
		free(q->reason);
		q->status = dup_str(&r);
		q->reason = dup_str(&r);
		q->reported = ipc_get_u32(&r);
		if (q->state > RS_BOUNCED)
			r.bad = true;
	}
	if (version >= 2) {
		const char *p = ipc_get_str(&r, QUEUE_MAX_PREPEND);
		m->prepend = xstrdup(p ? p : "");
	}
	if (!ipc_end(&r))
		goto bad;
	ipc_msg_free(&r);
	return 0;
bad:
	ipc_msg_free(&r);
	qmsg_free(m);
	return -1;
}

void qmsg_free(struct qmsg *m)
{
	for (uint32_t i = 0; i < m->nrcpt; i++) {
		free(m->rcpt[i].addr);
		free(m->rcpt[i].orcpt);
		free(m->rcpt[i].status);
		free(m->rcpt[i].reason);
	}
	free(m->rcpt);
	free(m->sender);
	free(m->envid);
	free(m->client);
	free(m->authuser);
	free(m->prepend);
	memset(m, 0, sizeof *m);
}

struct qrcpt *qmsg_add_rcpt(struct qmsg *m, const char *addr, const char *orcpt, uint32_t notify)
{
	m->rcpt = xrealloc(m->rcpt, (m->nrcpt + 1) * sizeof *m->rcpt);
	struct qrcpt *r = &m->rcpt[m->nrcpt++];
	memset(r, 0, sizeof *r);
	r->addr = xstrdup(addr);
	r->orcpt = xstrdup(orcpt ? orcpt : "");
	r->notify = notify;
	r->status = xstrdup("");
	r->reason = xstrdup("");
	return r;
}

bool qmsg_done(const struct qmsg *m)
{
	for (uint32_t i = 0; i < m->nrcpt; i++)
		if (m->rcpt[i].state != RS_DELIVERED && m->rcpt[i].state != RS_BOUNCED)
			return false;
	return true;
}

static void be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

unsigned char *qtrailer_make(const struct qmsg *m, size_t *len)
{
	size_t n;
	unsigned char *rec = qrec_encode(m, &n);
	unsigned char *t = xmalloc(n + QTRAILER_FIXED);
	memcpy(t, rec, n);
	be32(t + n, (uint32_t)n);
	memcpy(t + n + 4, QTRAILER_MAGIC, 8);
	free(rec);
	*len = n + QTRAILER_FIXED;
	return t;
}

int qtrailer_parse(const unsigned char *tail, size_t tail_len, uint64_t flen, struct qmsg *m)
{
	memset(m, 0, sizeof *m);
	if (tail_len < QTRAILER_FIXED || tail_len > flen ||
	    memcmp(tail + tail_len - 8, QTRAILER_MAGIC, 8))
		return -1;
	const unsigned char *p = tail + tail_len - QTRAILER_FIXED;
	uint32_t n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	if (n > tail_len - QTRAILER_FIXED)
		return -1;
	if (qrec_decode(p - n, n, m) < 0)
		return -1;
	if (m->size != flen - n - QTRAILER_FIXED) {
		qmsg_free(m);
		return -1;
	}
	return 0;
}
