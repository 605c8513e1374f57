/* qrec.h — a queued message as the index stores it, and its encoding.
 *
 * The same encoding is the value of the message's Berkeley DB record and the
 * trailer appended to its spool file at commit (after the message bytes:
 * record, u32 record length, magic "TERNENV1"), so the envelope can always be
 * recovered from the file alone (`mailctl queue rebuild`). Fields use the typed,
 * length-checked encoding of common/ipc.h; a record that fails any check is
 * refused, never misread. */
#ifndef TERN_QUEUED_QREC_H
#define TERN_QUEUED_QREC_H

#include "common/queue_proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QID_LEN		QUEUE_ID_LEN	/* hex characters */
#define QREC_VERSION	2	/* 2 added prepend; version 1 records still decode */
#define QTRAILER_MAGIC	"TERNENV1"
#define QTRAILER_FIXED	12	/* u32 length + 8-byte magic */

#define QREPORT_SUCCESS_DUE 2

enum rcpt_state { RS_PENDING = 0, RS_DELIVERED = 1, RS_DEFERRED = 2, RS_BOUNCED = 3 };

struct qrcpt {
	char *addr;
	char *orcpt;
	uint32_t notify;	/* DSN_NOTIFY_* */
	uint32_t state;		/* rcpt_state */
	uint32_t attempts;
	uint64_t next_attempt;	/* unix seconds */
	char *status;		/* enhanced status of the last result, "" if none */
	char *reason;		/* text of the last result */
	uint32_t reported;	/* 1: a DSN covers this recipient; QREPORT_SUCCESS_DUE: a
				 * "delivered" DSN is still to be sent */
};

struct qmsg {
	char id[QID_LEN + 1];
	char *sender;		/* "" = null sender */
	uint32_t flags;		/* QF_* */
	char *envid;
	uint32_t ret;		/* 0 none, 1 FULL, 2 HDRS */
	uint64_t arrival;	/* unix seconds */
	uint64_t size;		/* message bytes (without the trailer) */
	char *client;
	char *authuser;
	uint32_t held;
	uint32_t warned;	/* a delay DSN was sent */
	uint32_t nrcpt;
	struct qrcpt *rcpt;
	char *prepend;		/* header fields to add on top at delivery, NULL/"" if none */
};

/* Encode into a malloc'd buffer. */
unsigned char *qrec_encode(const struct qmsg *m, size_t *len);
/* Decode; 0 ok, -1 malformed (m is then empty). m must be freed with qmsg_free. */
int qrec_decode(const unsigned char *buf, size_t len, struct qmsg *m);
void qmsg_free(struct qmsg *m);
/* Append a recipient (strings copied). */
struct qrcpt *qmsg_add_rcpt(struct qmsg *m, const char *addr, const char *orcpt, uint32_t notify);
/* True if every recipient is delivered or bounced. */
bool qmsg_done(const struct qmsg *m);

/* Trailer: the bytes to append after the message. */
unsigned char *qtrailer_make(const struct qmsg *m, size_t *len);
/* Parse the trailer at the end of a file of total length flen whose last bytes
 * (at most tail_len, ending at EOF) are in tail; on success sets m (size set
 * to flen minus the trailer) and returns 0. */
int qtrailer_parse(const unsigned char *tail, size_t tail_len, uint64_t flen, struct qmsg *m);

#endif
