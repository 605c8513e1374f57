/* queue_client.c — smtpd's side of the queue channel (common/queue_proto.h):
 * QUEUE_NEW for a spool file, QUEUE_COMMIT with the envelope, QUEUE_ABORT. */
#include "smtpd/peer.h"
#include "smtpd/session.h"
#include "common/log.h"
#include "common/queue_codec.h"
#include "common/queue_proto.h"
#include "common/util.h"

#include <stdio.h>
#include <unistd.h>

static void new_res(void *owner, struct ipc_msg *m)
{
	struct session *s = owner;
	int status = QS_TEMPFAIL, fd = -1;
	const char *qid = NULL;
	if (m && m->hdr.type == QUEUE_NEW_RES) {
		uint32_t st;
		bool ok = queue_new_res_get(m, &st, &qid, &fd);
		status = (int)st;
		if (!ok || (status == QS_OK && (fd < 0 || !qid || !*qid))) {
			log_err("queue: malformed QUEUE_NEW_RES");
			status = QS_TEMPFAIL;
		}
	} else if (m) {
		log_err("queue: unexpected reply type %u to QUEUE_NEW_REQ", m->hdr.type);
	}
	if (status != QS_OK && fd >= 0) {
		close(fd);
		fd = -1;
	}
	if (!s) {
		/* The session ended while waiting: give the file back. */
		if (fd >= 0) {
			close(fd);
			queue_abort(NULL, qid);
		}
		return;
	}
	txn_queue_new_done(s, status, qid ? qid : "", fd);
}

/* Set at start-up: QUEUE_ABORT may be sent for a session already gone. */
static struct peer *queue_peer;

void queue_new(struct session *s)
{
	struct ipc_msg m;
	queue_peer = s->srv->queue;
	ipc_msg_init(&m, QUEUE_NEW_REQ, 0);
	peer_request(s->srv->queue, &m, new_res, s);
}

void queue_abort(struct server *srv, const char *qid)
{
	struct peer *p = srv ? srv->queue : queue_peer;
	if (!p || !qid || !*qid)
		return;
	struct ipc_msg m;
	ipc_msg_init(&m, QUEUE_ABORT_REQ, 0);
	queue_abort_put(&m, qid);
	peer_send(p, &m);
}

static void commit_res(void *owner, struct ipc_msg *m)
{
	struct session *s = owner;
	int status = QS_TEMPFAIL;
	const char *qid = NULL, *text = "queue unavailable";
	if (m && m->hdr.type == QUEUE_COMMIT_RES) {
		uint32_t st;
		bool ok = queue_commit_res_get(m, &st, &qid, &text);
		status = (int)st;
		if (!ok) {
			log_err("queue: malformed QUEUE_COMMIT_RES");
			status = QS_TEMPFAIL;
			text = "malformed reply";
		}
	}
	if (s)
		txn_commit_done(s, status, qid, text);
}

static unsigned queue_flags(const struct session *s)
{
	unsigned f = 0;
	/* 8-bit data without BODY=8BITMIME is kept and marked 8-bit, so relaying
	 * treats it as such (RFC 6152 leaves the server this choice). */
	if (s->tx.mail.body == BODY_8BITMIME || s->tx.body.eight_bit)
		f |= QF_8BITMIME;
	if (s->tx.mail.smtputf8)
		f |= QF_SMTPUTF8;
	if (s->auth_user)
		f |= QF_AUTH;
	if (s->tx.quarantine)
		f |= QF_QUARANTINE;
	/* RFC 8689 4.1: REQUIRETLS wins over a TLS-Required header field */
	if (s->tx.mail.requiretls)
		f |= QF_REQUIRETLS;
	else if (s->tx.tls_optional)
		f |= QF_TLS_OPTIONAL;
	return f;
}

void queue_commit(struct session *s)
{
	struct ipc_msg m;
	char client[SMTP_HELO_MAX + 80];
	snprintf(client, sizeof client, "%s [%s]", s->helo[0] ? s->helo : "unknown", s->ip);
	ipc_msg_init(&m, QUEUE_COMMIT_REQ, 0);
	queue_commit_put(&m, &(struct queue_commit){
		.qid = s->tx.qid, .sender = s->tx.mail.addr, .flags = queue_flags(s),
		.envid = s->tx.mail.envid, .ret = (uint32_t)s->tx.mail.ret, .client = client,
		.authuser = s->auth_user ? s->auth_user : "", .nrcpt = s->tx.nrcpt });
	for (unsigned i = 0; i < s->tx.nrcpt; i++)
		queue_commit_put_rcpt(&m, s->tx.rcpts[i].addr, s->tx.rcpts[i].notify, s->tx.rcpts[i].orcpt);
	queue_commit_put_end(&m, s->tx.prepend);	/* Authentication-Results */
	peer_request(s->srv->queue, &m, commit_res, s);
}
