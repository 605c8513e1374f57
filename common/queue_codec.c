/* queue_codec.c — the queue channel's messages (queue_codec.h). */
#include "common/queue_codec.h"
#include "common/queue_proto.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool queue_id_valid(const char *id)
{
	size_t n = 0;
	for (; id && id[n]; n++)
		if (!((id[n] >= '0' && id[n] <= '9') || (id[n] >= 'A' && id[n] <= 'F')))
			return false;
	return n == QUEUE_ID_LEN;
}

/* The first line starts with a field name: printable characters up to a
 * colon (RFC 5322 2.2). An empty first line would end the header there. */
static bool starts_with_field(const char *p)
{
	size_t n = 0;
	while (p[n] > ' ' && p[n] < 127 && p[n] != ':')
		n++;
	return n > 0 && p[n] == ':';
}

bool queue_prepend_valid(const char *p)
{
	size_t n = strlen(p);
	if (n == 0)
		return true;
	if (n < 2 || p[n - 2] != '\r' || p[n - 1] != '\n' || !starts_with_field(p) ||
	    strstr(p, "\r\n\r\n"))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '\r' && p[i + 1] != '\n')
			return false;
		if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r'))
			return false;
	}
	return true;
}

void queue_commit_put(struct ipc_msg *m, const struct queue_commit *c)
{
	ipc_put_str(m, c->qid);
	ipc_put_str(m, c->sender);
	ipc_put_u32(m, c->flags);
	ipc_put_str(m, c->envid);
	ipc_put_u32(m, c->ret);
	ipc_put_str(m, c->client);
	ipc_put_str(m, c->authuser);
	ipc_put_u32(m, c->nrcpt);
}

void queue_commit_put_rcpt(struct ipc_msg *m, const char *addr, uint32_t notify, const char *orcpt)
{
	ipc_put_str(m, addr);
	ipc_put_u32(m, notify);
	ipc_put_str(m, orcpt);
}

void queue_commit_put_end(struct ipc_msg *m, const char *prepend)
{
	if (prepend && *prepend)
		ipc_put_str(m, prepend);
}

bool queue_commit_get(struct ipc_msg *m, struct queue_commit *c)
{
	c->qid = ipc_get_str(m, QUEUE_MAX_FIELD);
	c->sender = ipc_get_str(m, QUEUE_MAX_FIELD);
	c->flags = ipc_get_u32(m);
	c->envid = ipc_get_str(m, QUEUE_MAX_FIELD);
	c->ret = ipc_get_u32(m);
	c->client = ipc_get_str(m, QUEUE_MAX_FIELD);
	c->authuser = ipc_get_str(m, QUEUE_MAX_FIELD);
	c->nrcpt = ipc_get_u32(m);
	return !m->bad && queue_id_valid(c->qid) && c->nrcpt > 0 && c->nrcpt <= QUEUE_MAX_RCPTS &&
	       c->ret <= 2;
}

bool queue_commit_get_rcpt(struct ipc_msg *m, const char **addr, uint32_t *notify, const char **orcpt)
{
	*addr = ipc_get_str(m, QUEUE_MAX_FIELD);
	*notify = ipc_get_u32(m);
	*orcpt = ipc_get_str(m, QUEUE_MAX_FIELD);
	return !m->bad;
}

bool queue_commit_get_end(struct ipc_msg *m, const char **prepend)
{
	*prepend = NULL;
	if (!m->bad && m->rpos < m->hdr.len)
		*prepend = ipc_get_str(m, QUEUE_MAX_PREPEND);
	if (*prepend && !**prepend)
		*prepend = NULL;	/* as put_end encodes none */
	return ipc_end(m) && (!*prepend || queue_prepend_valid(*prepend));
}

void queue_commit_res_put(struct ipc_msg *m, uint32_t status, const char *qid, const char *text)
{
	ipc_put_u32(m, status);
	ipc_put_str(m, qid);
	ipc_put_str(m, text);
}

bool queue_commit_res_get(struct ipc_msg *m, uint32_t *status, const char **qid, const char **text)
{
	*status = ipc_get_u32(m);
	*qid = ipc_get_str(m, QUEUE_MAX_FIELD);
	*text = ipc_get_str(m, QUEUE_MAX_FIELD);
	return ipc_end(m);
}

void queue_new_res_put(struct ipc_msg *m, uint32_t status, const char *qid, int fd)
{
	ipc_put_u32(m, status);
	ipc_put_str(m, qid);
	if (fd >= 0)
		ipc_put_fd(m, fd);
}

/* A file comes with the id of an OK answer, and only then. */
bool queue_new_res_get(struct ipc_msg *m, uint32_t *status, const char **qid, int *fd)
{
	*status = ipc_get_u32(m);
	*qid = ipc_get_str(m, QUEUE_MAX_FIELD);
	*fd = ipc_take_fd(m);
	bool ok = *status == QS_OK ? queue_id_valid(*qid) && *fd >= 0 : *fd < 0;
	if (ipc_end(m) && ok)
		return true;
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	return false;
}

bool queue_empty_get(struct ipc_msg *m)
{
	return ipc_end(m);
}

void queue_abort_put(struct ipc_msg *m, const char *qid)
{
	ipc_put_str(m, qid);
}

bool queue_abort_get(struct ipc_msg *m, const char **qid)
{
	*qid = ipc_get_str(m, QUEUE_ID_LEN);
	return ipc_end(m) && queue_id_valid(*qid);
}

void queue_hello_put(struct ipc_msg *m, uint32_t transport, const unsigned char *key)
{
	ipc_put_u32(m, transport);
	ipc_put_bytes(m, key, QUEUE_AGENT_KEY_LEN);
}

bool queue_hello_get(struct ipc_msg *m, uint32_t *transport, const unsigned char **key)
{
	size_t n = 0;
	*transport = ipc_get_u32(m);
	*key = ipc_get_bytes(m, &n, QUEUE_AGENT_KEY_LEN);
	return ipc_end(m) && *transport <= QT_REMOTE && n == QUEUE_AGENT_KEY_LEN;
}

void queue_admin_put(struct ipc_msg *m, const char *cmd, const char *arg)
{
	ipc_put_str(m, cmd);
	ipc_put_str(m, arg);
}

bool queue_admin_get(struct ipc_msg *m, const char **cmd, const char **arg)
{
	*cmd = ipc_get_str(m, QUEUE_MAX_ADMIN_CMD);
	*arg = ipc_get_str(m, QUEUE_MAX_FIELD);
	return ipc_end(m);
}

void queue_admin_res_put(struct ipc_msg *m, uint32_t status, uint32_t n, char *const *lines)
{
	ipc_put_u32(m, status);
	ipc_put_u32(m, n);
	for (uint32_t i = 0; i < n; i++)
		ipc_put_str(m, lines[i]);
}

/* Each field takes at least 5 bytes: a count the payload cannot hold is
 * refused before anything is allocated for it. */
static bool count_fits(const struct ipc_msg *m, uint32_t n)
{
	return !m->bad && n <= (m->hdr.len - m->rpos) / 5;
}

const char **queue_admin_res_get(struct ipc_msg *m, uint32_t *status, uint32_t *n)
{
	*status = ipc_get_u32(m);
	*n = ipc_get_u32(m);
	if (!count_fits(m, *n))
		return NULL;
	const char **lines = xcalloc(*n ? *n : 1, sizeof *lines);
	for (uint32_t i = 0; i < *n; i++)
		lines[i] = ipc_get_str(m, IPC_MAX_PAYLOAD);
	if (ipc_end(m))
		return lines;
	free(lines);
	return NULL;
}

void queue_job_put(struct ipc_msg *m, const struct queue_job *j)
{
	ipc_put_str(m, j->qid);
	ipc_put_str(m, j->sender);
	ipc_put_u32(m, j->flags);
	ipc_put_u64(m, j->size);
	ipc_put_str(m, j->envid);
	ipc_put_u32(m, j->ret);
	ipc_put_u32(m, j->nrcpt);
	for (uint32_t k = 0; k < j->nrcpt; k++) {
		const struct queue_job_rcpt *r = &j->rcpt[k];
		ipc_put_u32(m, r->idx);
		ipc_put_str(m, r->addr);
		ipc_put_str(m, r->orcpt);
		ipc_put_u32(m, r->notify);
		ipc_put_str(m, r->hop);
		auth_boxes_put(m, r->boxes, r->nbox);
	}
	ipc_put_str(m, j->prepend);
	ipc_put_fd(m, j->fd);
}

static void job_get_rcpt(struct ipc_msg *m, struct queue_job_rcpt *r)
{
	r->idx = ipc_get_u32(m);
	r->addr = ipc_get_str(m, QUEUE_MAX_FIELD);
	r->orcpt = ipc_get_str(m, QUEUE_MAX_FIELD);
	r->notify = ipc_get_u32(m);
	r->hop = ipc_get_str(m, QUEUE_MAX_FIELD);
	if (!m->bad && !auth_boxes_get(m, AUTH_MAX_BOXES, &r->boxes, &r->nbox))
		m->bad = true;
}

bool queue_job_get(struct ipc_msg *m, struct queue_job *j)
{
	memset(j, 0, sizeof *j);
	j->fd = -1;
	j->qid = ipc_get_str(m, QUEUE_ID_LEN);
	j->sender = ipc_get_str(m, QUEUE_MAX_FIELD);
	j->flags = ipc_get_u32(m);
	j->size = ipc_get_u64(m);
	j->envid = ipc_get_str(m, QUEUE_MAX_FIELD);
	j->ret = ipc_get_u32(m);
	j->nrcpt = ipc_get_u32(m);
	if (!queue_id_valid(j->qid) || j->nrcpt == 0 || j->nrcpt > QUEUE_MAX_RCPTS ||
	    !count_fits(m, j->nrcpt) || m->fd < 0)
		return false;
	j->rcpt = xcalloc(j->nrcpt, sizeof *j->rcpt);
	for (uint32_t k = 0; k < j->nrcpt && !m->bad; k++)
		job_get_rcpt(m, &j->rcpt[k]);
	j->prepend = ipc_get_str(m, QUEUE_MAX_PREPEND);
	if (!ipc_end(m) || !queue_prepend_valid(j->prepend)) {
		queue_job_done(j);
		return false;
	}
	j->fd = ipc_take_fd(m);
	return true;
}

void queue_job_done(struct queue_job *j)
{
	for (uint32_t k = 0; j->rcpt && k < j->nrcpt; k++)
		auth_boxes_free(j->rcpt[k].boxes, j->rcpt[k].nbox);
	free(j->rcpt);
	j->rcpt = NULL;
}

void queue_job_res_put(struct ipc_msg *m, const char *qid, uint32_t n)
{
	ipc_put_str(m, qid);
	ipc_put_u32(m, n);
}

void queue_job_res_put_one(struct ipc_msg *m, const struct queue_rcpt_result *r)
{
	ipc_put_u32(m, r->idx);
	ipc_put_u32(m, r->result);
	ipc_put_str(m, r->status);
	ipc_put_str(m, r->text);
}

struct queue_rcpt_result *queue_job_res_get(struct ipc_msg *m, const char **qid, uint32_t *n)
{
	*qid = ipc_get_str(m, QUEUE_ID_LEN);
	*n = ipc_get_u32(m);
	if (!queue_id_valid(*qid) || *n > QUEUE_MAX_RCPTS || !count_fits(m, *n))
		return NULL;
	struct queue_rcpt_result *r = xcalloc(*n ? *n : 1, sizeof *r);
	bool ok = true;
	for (uint32_t k = 0; k < *n; k++) {
		r[k].idx = ipc_get_u32(m);
		r[k].result = ipc_get_u32(m);
		r[k].status = ipc_get_str(m, QUEUE_MAX_STATUS);
		r[k].text = ipc_get_str(m, QUEUE_MAX_FIELD);
		ok &= r[k].result <= QR_BOUNCE;
	}
	if (ipc_end(m) && ok)
		return r;
	free(r);
	return NULL;
}

void queue_status_req_put(struct ipc_msg *m, const char *qid, const char *user)
{
	ipc_put_str(m, qid);
	ipc_put_str(m, user);
}

bool queue_status_req_get(struct ipc_msg *m, const char **qid, const char **user)
{
	*qid = ipc_get_str(m, QUEUE_ID_LEN);
	*user = ipc_get_str(m, QUEUE_MAX_FIELD);
	return ipc_end(m) && queue_id_valid(*qid) && **user;
}

void queue_status_res_put(struct ipc_msg *m, uint32_t status, uint32_t n)
{
	ipc_put_u32(m, status);
	ipc_put_u32(m, n);
}

void queue_status_res_put_one(struct ipc_msg *m, const struct queue_rcpt_status *r)
{
	ipc_put_str(m, r->addr);
	ipc_put_u32(m, r->delivered);
	ipc_put_str(m, r->status);
	ipc_put_str(m, r->text);
}

struct queue_rcpt_status *queue_status_res_get(struct ipc_msg *m, uint32_t *status, uint32_t *n)
{
	*status = ipc_get_u32(m);
	*n = ipc_get_u32(m);
	if ((*status != QS_OK && *status != QS_NOTFOUND && *status != QS_TEMPFAIL) ||
	    (*status != QS_OK && *n) ||
	    *n > QUEUE_MAX_RCPTS || !count_fits(m, *n))
		return NULL;
	struct queue_rcpt_status *r = xcalloc(*n ? *n : 1, sizeof *r);
	bool ok = true;
	for (uint32_t k = 0; k < *n; k++) {
		r[k].addr = ipc_get_str(m, QUEUE_MAX_FIELD);
		r[k].delivered = ipc_get_u32(m);
		r[k].status = ipc_get_str(m, QUEUE_MAX_STATUS);
		r[k].text = ipc_get_str(m, QUEUE_MAX_FIELD);
		ok &= r[k].delivered <= QD_UNKNOWN;
	}
	if (ipc_end(m) && ok)
		return r;
	free(r);
	return NULL;
}
