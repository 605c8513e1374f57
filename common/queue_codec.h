/* queue_codec.h — encode and decode of every message of the queue channel
 * (fields in queue_proto.h; the DMARC and TLS-RPT records have theirs in
 * common/dmarc_record.h and common/tlsrpt_record.h), so the field order and
 * the checks of each message live in one place for smtpd, sendmail/mailctl
 * (queue_submit.c), queued and the delivery agents. Every decoder refuses a
 * message with a missing, oversized or out-of-range field, or with bytes after
 * its last field; decoded strings point into the message. */
#ifndef TERN_QUEUE_CODEC_H
#define TERN_QUEUE_CODEC_H

#include "common/auth_boxes.h"
#include "common/ipc.h"

#include <stdbool.h>
#include <stdint.h>

/* A queue id: QUEUE_ID_LEN upper-case hex characters (it names spool files). */
bool queue_id_valid(const char *id);
/* Header fields to prepend: CRLF-terminated lines, the first one a field
 * name, no empty line (it would end the header early), no bare CR or LF; ""
 * is valid (none). */
bool queue_prepend_valid(const char *p);

/* The envelope of a QUEUE_COMMIT_REQ before its recipients. Decoded strings
 * point into the message. */
struct queue_commit {
	const char *qid, *sender, *envid, *client, *authuser;
	uint32_t flags, ret, nrcpt;
};

/* Encode: the head, then nrcpt recipients, then the optional prepend (none
 * when NULL or ""). */
void queue_commit_put(struct ipc_msg *m, const struct queue_commit *c);
void queue_commit_put_rcpt(struct ipc_msg *m, const char *addr, uint32_t notify, const char *orcpt);
void queue_commit_put_end(struct ipc_msg *m, const char *prepend);
/* Decode in the same order; false when malformed (a missing field, a queue
 * id that is not one, no recipient or more than QUEUE_MAX_RCPTS, ret over 2,
 * a prepend that queue_prepend_valid refuses, bytes after the end). *prepend
 * is NULL when the message has none (or an empty one). */
bool queue_commit_get(struct ipc_msg *m, struct queue_commit *c);
bool queue_commit_get_rcpt(struct ipc_msg *m, const char **addr, uint32_t *notify, const char **orcpt);
bool queue_commit_get_end(struct ipc_msg *m, const char **prepend);

/* QUEUE_COMMIT_RES: status, queue id, text. */
void queue_commit_res_put(struct ipc_msg *m, uint32_t status, const char *qid, const char *text);
bool queue_commit_res_get(struct ipc_msg *m, uint32_t *status, const char **qid, const char **text);
/* QUEUE_NEW_RES: status, queue id, and the new file's fd when OK (taken:
 * the caller owns *fd, -1 when none). */
void queue_new_res_put(struct ipc_msg *m, uint32_t status, const char *qid, int fd);
bool queue_new_res_get(struct ipc_msg *m, uint32_t *status, const char **qid, int *fd);
/* QUEUE_NEW_REQ and QUEUE_AGENT_DRAIN carry no field: this checks that. */
bool queue_empty_get(struct ipc_msg *m);

/* QUEUE_ABORT_REQ: the queue id of the uncommitted file. */
void queue_abort_put(struct ipc_msg *m, const char *qid);
bool queue_abort_get(struct ipc_msg *m, const char **qid);

/* QUEUE_AGENT_HELLO: transport (QT_*) and the agent key (QUEUE_AGENT_KEY_LEN
 * bytes; *key points into the message). */
void queue_hello_put(struct ipc_msg *m, uint32_t transport, const unsigned char *key);
bool queue_hello_get(struct ipc_msg *m, uint32_t *transport, const unsigned char **key);

/* QUEUE_ADMIN_REQ: command word (at most QUEUE_MAX_ADMIN_CMD bytes), argument. */
void queue_admin_put(struct ipc_msg *m, const char *cmd, const char *arg);
bool queue_admin_get(struct ipc_msg *m, const char **cmd, const char **arg);
/* QUEUE_ADMIN_RES: status and n lines. The decoder returns the lines
 * (malloc'd array, the strings in the message; free the array) or NULL when
 * malformed. */
void queue_admin_res_put(struct ipc_msg *m, uint32_t status, uint32_t n, char *const *lines);
const char **queue_admin_res_get(struct ipc_msg *m, uint32_t *status, uint32_t *n);

/* QUEUE_JOB: one message for an agent, with some of its recipients. */
struct queue_job_rcpt {
	uint32_t idx;		/* the recipient's index in queued's record */
	const char *addr, *orcpt, *hop;
	uint32_t notify;
	/* local: the mailboxes queued's routing lookup expanded it to (decoded:
	 * malloc'd, at most AUTH_MAX_BOXES); nbox 0: the agent expands it */
	struct auth_mailbox *boxes;
	size_t nbox;
};
struct queue_job {
	const char *qid, *sender, *envid, *prepend;
	uint32_t flags, ret, nrcpt;
	uint64_t size;
	struct queue_job_rcpt *rcpt;	/* nrcpt of them */
	int fd;				/* the message file, read-only */
};
/* Encode all of j; the message takes j->fd. */
void queue_job_put(struct ipc_msg *m, const struct queue_job *j);
/* Decode: on success j->rcpt and its boxes are malloc'd (queue_job_done
 * frees them; a caller that keeps a recipient's boxes sets its boxes to NULL
 * and nbox to 0 first) and the
 * caller owns j->fd; on failure (also: no fd, no recipient, more than
 * QUEUE_MAX_RCPTS) nothing is left to free. */
bool queue_job_get(struct ipc_msg *m, struct queue_job *j);
void queue_job_done(struct queue_job *j);

/* QUEUE_JOB_RES: the queue id, then n results. */
struct queue_rcpt_result {
	uint32_t idx, result;	/* result: QR_* */
	const char *status, *text;
};
void queue_job_res_put(struct ipc_msg *m, const char *qid, uint32_t n);
void queue_job_res_put_one(struct ipc_msg *m, const struct queue_rcpt_result *r);
/* The n results (malloc'd, at least one element) or NULL when malformed (a
 * result that is no QR_*, more than QUEUE_MAX_RCPTS, bytes after them). */
struct queue_rcpt_result *queue_job_res_get(struct ipc_msg *m, const char **qid, uint32_t *n);

/* QUEUE_STATUS_REQ: queue id and the user asking (non-empty). */
void queue_status_req_put(struct ipc_msg *m, const char *qid, const char *user);
bool queue_status_req_get(struct ipc_msg *m, const char **qid, const char **user);
/* QUEUE_STATUS_RES: status (QS_OK, QS_NOTFOUND, or QS_TEMPFAIL: see
 * queue_proto.h), then n recipients (none unless OK). */
struct queue_rcpt_status {
	const char *addr;
	uint32_t delivered;	/* QD_* */
	const char *status, *text;	/* of the last attempt, "" if none */
};
void queue_status_res_put(struct ipc_msg *m, uint32_t status, uint32_t n);
void queue_status_res_put_one(struct ipc_msg *m, const struct queue_rcpt_status *r);
/* The n recipients (malloc'd, at least one element) or NULL when malformed
 * (another status, recipients with QS_NOTFOUND, a delivered that is no QD_*,
 * more than QUEUE_MAX_RCPTS, bytes after them). */
struct queue_rcpt_status *queue_status_res_get(struct ipc_msg *m, uint32_t *status, uint32_t *n);

#endif
