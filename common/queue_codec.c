/* queue_codec.c — the queue channel's commit and new-file messages (queue_codec.h). */
#include "common/queue_codec.h"
#include "common/queue_proto.h"

#include <unistd.h>

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
	return !m->bad && c->nrcpt <= QUEUE_MAX_RCPTS;
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
	return ipc_end(m);
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

bool queue_new_res_get(struct ipc_msg *m, uint32_t *status, const char **qid, int *fd)
{
	*status = ipc_get_u32(m);
	*qid = ipc_get_str(m, QUEUE_MAX_FIELD);
	*fd = ipc_take_fd(m);
	if (ipc_end(m))
		return true;
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
	return false;
}
