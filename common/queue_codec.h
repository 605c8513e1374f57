/* queue_codec.h — encode and decode of the queue channel's QUEUE_COMMIT_REQ,
 * QUEUE_COMMIT_RES and QUEUE_NEW_RES (fields in queue_proto.h), so the field
 * order lives in one place for smtpd, sendmail/mailctl (queue_submit.c) and
 * queued. Every decoder refuses a message with bytes after its last field. */
#ifndef TERN_QUEUE_CODEC_H
#define TERN_QUEUE_CODEC_H

#include "common/ipc.h"

#include <stdbool.h>
#include <stdint.h>

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
/* Decode in the same order; false when malformed (a missing field, a
 * recipient count over QUEUE_MAX_RCPTS, bytes after the end). *prepend is
 * NULL when the message has none. */
bool queue_commit_get(struct ipc_msg *m, struct queue_commit *c);
bool queue_commit_get_rcpt(struct ipc_msg *m, const char **addr, uint32_t *notify, const char **orcpt);
bool queue_commit_get_end(struct ipc_msg *m, const char **prepend);

/* QUEUE_COMMIT_RES: status, queue id, text. */
void queue_commit_res_put(struct ipc_msg *m, uint32_t status, const char *qid, const char *text);
bool queue_commit_res_get(struct ipc_msg *m, uint32_t *status, const char **qid, const char **text);
/* QUEUE_NEW_RES: status, queue id, and the new file's fd when OK (taken:
 * the caller owns *fd, -1 when none). */
bool queue_new_res_get(struct ipc_msg *m, uint32_t *status, const char **qid, int *fd);

#endif
