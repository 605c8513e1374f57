/* queue_submit.c — blocking QUEUE_NEW / QUEUE_COMMIT (see queue_submit.h). */
#include "common/queue_submit.h"
#include "common/ipc.h"
#include "common/queue_codec.h"
#include "common/queue_proto.h"
#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define RETRY_US 200000

/* One QUEUE_NEW_REQ on a fresh connection: 1 answered (status in *st), 0 queued
 * not reachable. */
static int ask_new(const char *path, struct queue_submission *s, uint32_t *st)
{
	struct ipc_msg q;
	s->sock = ipc_connect(path);
	if (s->sock < 0)
		return 0;
	ipc_msg_init(&q, QUEUE_NEW_REQ, 1);
	int sent = ipc_send(s->sock, &q);
	ipc_msg_free(&q);
	if (sent < 0 || ipc_recv(s->sock, &q, 60000) < 0 || q.hdr.type != QUEUE_NEW_RES) {
		close(s->sock);
		s->sock = -1;
		return 0;
	}
	const char *id;
	bool ok = queue_new_res_get(&q, st, &id, &s->fd);
	strlcpy_t(s->qid, ok && id ? id : "", sizeof s->qid);
	if (!ok || (*st == QS_OK && (s->fd < 0 || !s->qid[0])))
		*st = QS_TEMPFAIL;
	ipc_msg_free(&q);
	return 1;
}

uint32_t queue_submit_open(const char *sock_path, uint64_t wait_ms, struct queue_submission *s,
			   char *err, size_t errlen)
{
	uint64_t deadline = now_ms() + wait_ms;
	uint32_t st = QS_TEMPFAIL;
	memset(s, 0, sizeof *s);
	s->sock = s->fd = -1;
	while (!ask_new(sock_path, s, &st)) {
		if (now_ms() > deadline) {
			snprintf(err, errlen, "cannot reach the queue manager at %s: %s", sock_path,
				 strerror(errno ? errno : EIO));
			return QS_TEMPFAIL;
		}
		usleep(RETRY_US);
	}
	if (st == QS_OK)
		return QS_OK;
	snprintf(err, errlen, "the queue refused the message: %s",
		 st == QS_NOSPACE ? "insufficient system storage" : "temporary failure");
	queue_submit_abort(s);
	return st;
}

uint32_t queue_submit_commit(struct queue_submission *s, const struct queue_envelope *env,
			     int timeout_ms, char *err, size_t errlen)
{
	struct ipc_msg q;
	close(s->fd);
	s->fd = -1;
	ipc_msg_init(&q, QUEUE_COMMIT_REQ, 2);
	queue_commit_put(&q, &(struct queue_commit){
		.qid = s->qid, .sender = env->sender, .flags = env->flags, .envid = "", .ret = 0,
		.client = env->client, .authuser = env->auth_user ? env->auth_user : "",
		.nrcpt = (uint32_t)env->nrcpt });
	for (size_t k = 0; k < env->nrcpt; k++)
		queue_commit_put_rcpt(&q, env->rcpts[k], 0, env->orcpts ? env->orcpts[k] : "");
	queue_commit_put_end(&q, env->prepend);
	int sent = ipc_send(s->sock, &q);
	ipc_msg_free(&q);
	if (sent < 0 || ipc_recv(s->sock, &q, timeout_ms) < 0 || q.hdr.type != QUEUE_COMMIT_RES) {
		snprintf(err, errlen, "no answer from the queue manager after the message was "
			 "handed over: it may or may not have been queued");
		close(s->sock);
		s->sock = -1;
		return QS_TEMPFAIL;
	}
	uint32_t st;
	const char *qid, *text;
	if (!queue_commit_res_get(&q, &st, &qid, &text)) {
		st = QS_TEMPFAIL;
		text = "malformed answer from the queue manager";
	}
	if (st != QS_OK)
		snprintf(err, errlen, "not queued: %s", text ? text : "error");
	ipc_msg_free(&q);
	close(s->sock);
	s->sock = -1;
	return st;
}

void queue_submit_abort(struct queue_submission *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->sock >= 0 && s->qid[0]) {
		struct ipc_msg q;
		ipc_msg_init(&q, QUEUE_ABORT_REQ, 3);
		queue_abort_put(&q, s->qid);
		ipc_send(s->sock, &q);
		ipc_msg_free(&q);
	}
	if (s->sock >= 0)
		close(s->sock);
	s->sock = -1;
}
