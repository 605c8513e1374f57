/* queue_client.c — smtpd's side of the queue channel (common/queue_proto.h):
 * QUEUE_NEW for a spool file, QUEUE_COMMIT with the envelope, QUEUE_ABORT. */
#include "smtpd/peer.h"
#include "smtpd/session.h"
#include "common/log.h"
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
		status = (int)ipc_get_u32(m);
		qid = ipc_get_str(m, QUEUE_MAX_FIELD);
		fd = ipc_take_fd(m);
		if (!ipc_end(m) || (status == QS_OK && (fd < 0 || !qid || !*qid))) {
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
	ipc_put_str(&m, qid);
	peer_send(p, &m);
}

static void commit_res(void *owner, struct ipc_msg *m)
{
	struct session *s = owner;
	int status = QS_TEMPFAIL;
	const char *qid = NULL, *text = "queue unavailable";
	if (m && m->hdr.type == QUEUE_COMMIT_RES) {
		status = (int)ipc_get_u32(m);
		qid = ipc_get_str(m, QUEUE_MAX_FIELD);
		text = ipc_get_str(m, QUEUE_MAX_FIELD);
		if (!ipc_end(m)) {
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
	ipc_put_str(&m, s->tx.qid);
	ipc_put_str(&m, s->tx.mail.addr);
	ipc_put_u32(&m, queue_flags(s));
	ipc_put_str(&m, s->tx.mail.envid);
	ipc_put_u32(&m, (uint32_t)s->tx.mail.ret);
	ipc_put_str(&m, client);
	ipc_put_str(&m, s->auth_user ? s->auth_user : "");
	ipc_put_u32(&m, s->tx.nrcpt);
	for (unsigned i = 0; i < s->tx.nrcpt; i++) {
		ipc_put_str(&m, s->tx.rcpts[i].addr);
		ipc_put_u32(&m, s->tx.rcpts[i].notify);
		ipc_put_str(&m, s->tx.rcpts[i].orcpt);
	}
	if (s->tx.prepend)
		ipc_put_str(&m, s->tx.prepend);	/* Authentication-Results */
	peer_request(s->srv->queue, &m, commit_res, s);
}
