/* queue_proto.h — messages of the queue channel (RUN/queue.sock), served by queued.
 *
 * Enqueue (smtpd, sendmail): QUEUE_NEW gets a fresh spool file as an fd; the
 * client writes the complete message (our Received header first, then the data
 * as received, CRLF line endings, no dot-stuffing) into it and sends
 * QUEUE_COMMIT with the envelope. queued replies QUEUE_COMMIT_RES only once the
 * file and its directory are fsync'd and the index record is committed; only then
 * may the client say 250. QUEUE_ABORT (or closing the connection) discards an
 * uncommitted file. Requests on one connection are answered in order per id.
 *
 * Delivery agents (deliverd) connect and send QUEUE_AGENT_HELLO with the run's
 * agent key (common/daemon.h: the master gives it to queued and the two agents
 * only); queued then pushes QUEUE_JOB messages (each with the message file as a
 * read-only fd) and the agent answers each with QUEUE_JOB_RES, one result per
 * recipient. A HELLO without the right key closes the connection: every other
 * process of the suite runs under an account an agent may share (tern-vmail) or
 * as the same user, so the account alone cannot say who is an agent.
 *
 * smtpd also sends QUEUE_DMARC_RECORD (no reply) after each DMARC evaluation,
 * for the aggregate reports of `mailctl dmarc report`; the remote agent sends
 * QUEUE_TLSRPT_RECORD after each TLS session it opens, for `mailctl tlsrpt report`.
 *
 * Administration (mailctl queue ...): QUEUE_ADMIN_REQ with a command word and an
 * argument, answered by QUEUE_ADMIN_RES with a status and text lines.
 *
 * Delivery status (httpd's front, for JMAP EmailSubmission/get):
 * QUEUE_STATUS_REQ names a queue id and the authenticated user the caller
 * asks for; queued answers QUEUE_STATUS_RES with the per-recipient outcome
 * only when the message was submitted (QF_AUTH) by that very user, as its
 * record says, and from a trusted peer only: the front puts in the user it
 * authenticated, never one the user's mail process names. */
#ifndef TERN_QUEUE_PROTO_H
#define TERN_QUEUE_PROTO_H

#define QUEUE_ID_LEN 16		/* upper-case hex characters */
#define QUEUE_MAX_FIELD 2048
#define QUEUE_MAX_STATUS 16	/* an enhanced status code, "5.1.1" */
#define QUEUE_MAX_ADMIN_CMD 32
#define QUEUE_MAX_RCPTS 1000
#define QUEUE_MAX_PREPEND 16384
#define QUEUE_AGENT_KEY_LEN 32

enum queue_msg {
	/* (no fields) -> QUEUE_NEW_RES */
	QUEUE_NEW_REQ = 200,
	/* u32 queue_status, queue id (QUEUE_ID_LEN chars, [0-9A-F]; "" unless OK),
	 * fd of the new file (when OK) */
	QUEUE_NEW_RES,

	/* queue id, sender ("" for the null sender <>), u32 flags (QF_*), envid ("" if
	 * none), u32 ret (0 none, 1 FULL, 2 HDRS), client description (for logs),
	 * authenticated user ("" if none), u32 nrcpt, then nrcpt times: address,
	 * u32 notify (DSN_NOTIFY_* bits, 0 = not given), orcpt ("" if none).
	 * envid and orcpt ("addr-type;addr") are as received in ENVID=/ORCPT=, still
	 * xtext-encoded (RFC 3461 4): pass them on unchanged when relaying, decode
	 * them for the fields of a DSN.  *
	 * Optionally last: prepend, header fields (CRLF lines) to put on top of the
	 * message at delivery, e.g. Authentication-Results (smtpd only; max
	 * QUEUE_MAX_PREPEND bytes) */
	QUEUE_COMMIT_REQ,
	/* u32 queue_status, queue id, text (reason for a failure) */
	QUEUE_COMMIT_RES,

	/* queue id -> no reply */
	QUEUE_ABORT_REQ,

	/* u32 transport (QT_*), the agent key (QUEUE_AGENT_KEY_LEN bytes) -> none;
	 * the agent is now fed jobs */
	QUEUE_AGENT_HELLO,
	/* queue id, sender, u32 flags, u64 size (message bytes: read only these, the
	 * spool file carries queued's envelope trailer after them), envid (xtext, ""
	 * if none), u32 ret (0 none, 1 FULL, 2 HDRS), u32 nrcpt, then nrcpt times:
	 * u32 rcpt index, address, orcpt (xtext, "" if none), u32 notify
	 * (DSN_NOTIFY_*, 0 = not given), hop (remote: the mailbox host of the
	 * site to relay it to, docs/SCALING.md; "" = by MX), mailboxes (local:
	 * the recipient's expansion from queued's AUTH_ROUTE lookup, in the
	 * EXPAND reply's form, auth_boxes_put; u32 0 = none, the agent expands
	 * it); message fd attached (read-only; use pread
	 * from offset 0). The DSN fields let the remote agent pass DSN requests on
	 * (RFC 3461 4).  * Last: prepend (header fields to put on top of the message, "" if none). */
	QUEUE_JOB,
	/* queue id, u32 nrcpt, then nrcpt times: u32 rcpt index, u32 result (QR_*),
	 * enhanced status ("5.1.1"), text (the reply or reason for DSNs and logs) */
	QUEUE_JOB_RES,

	/* command ("list", "show", "flush", "delete", "hold", "release", "pause",
	 * "resume", "rebuild"), argument ("" / id / "all") -> QUEUE_ADMIN_RES */
	QUEUE_ADMIN_REQ,
	/* u32 queue_status, u32 nlines, then nlines strings. A long answer comes as
	 * several frames with the request's id: every one but the last has status
	 * QS_MORE; the last carries the real status. */
	QUEUE_ADMIN_RES,

	/* One DMARC evaluation for aggregate reports (smtpd only, trusted peers):
	 * the fields of struct dmarc_record (common/dmarc_record.h,
	 * dmarc_record_put). No reply: queued appends it to SPOOL/dmarc/records
	 * (durable with the next group commit); a malformed one closes the
	 * connection, one that does not fit the log's size limit is logged. */
	QUEUE_DMARC_RECORD,

	/* (no fields, no reply) from an agent that is being replaced (`mailctl
	 * reload` starts a new generation): queued gives it no new jobs; it answers
	 * the jobs it holds, then closes the connection. */
	QUEUE_AGENT_DRAIN,

	/* One outbound TLS session outcome for TLS reports (agents only): the
	 * fields of struct tlsrpt_record (common/tlsrpt_record.h,
	 * tlsrpt_record_put). No reply: queued appends it to SPOOL/tlsrpt/records
	 * like a DMARC record. */
	QUEUE_TLSRPT_RECORD,

	/* queue id, authenticated user -> QUEUE_STATUS_RES (trusted peers only) */
	QUEUE_STATUS_REQ,
	/* u32 queue_status (QS_OK, or QS_NOTFOUND: no such message, not
	 * submitted by that user, or finished and forgotten; httpd's front
	 * passes the same fields on to the user's mail process, with QS_TEMPFAIL
	 * when queued could not be asked), u32 nrcpt (0 unless
	 * OK), then nrcpt times: address, u32 delivered (QD_*), enhanced status of
	 * the last attempt ("" if none yet), text of the last attempt (the peer's
	 * reply or the reason; "" if none). */
	QUEUE_STATUS_RES,
};

enum queue_status {
	QS_OK = 0,
	QS_TEMPFAIL = 1,	/* 451 4.3.0 */
	QS_NOSPACE = 2,		/* 452 4.3.1 insufficient system storage */
	QS_REJECT = 3,		/* 554 5.x: refused permanently (text says why) */
	QS_NOTFOUND = 4,	/* admin: no such message */
	QS_MORE = 5,		/* admin: more QUEUE_ADMIN_RES frames follow */
};

enum queue_flags {
	QF_8BITMIME = 1 << 0,	/* BODY=8BITMIME */
	QF_SMTPUTF8 = 1 << 1,
	QF_BOUNCE = 1 << 2,	/* this message is a DSN we generated */
	QF_AUTH = 1 << 3,	/* submitted by an authenticated user */
	QF_LOCAL = 1 << 4,	/* submitted locally (sendmail) */
	QF_QUARANTINE = 1 << 5,	/* inbound checks said quarantine: deliver to Junk */
	QF_REQUIRETLS = 1 << 6,	/* REQUIRETLS (RFC 8689): relay only over authenticated TLS */
	QF_TLS_OPTIONAL = 1 << 7,	/* TLS-Required: No (RFC 8689 3): ignore TLS policies */
};

enum dsn_notify {
	DSN_NOTIFY_NEVER = 1 << 0,
	DSN_NOTIFY_SUCCESS = 1 << 1,
	DSN_NOTIFY_FAILURE = 1 << 2,
	DSN_NOTIFY_DELAY = 1 << 3,
};

enum queue_transport { QT_LOCAL = 0, QT_REMOTE = 1 };

enum queue_result {
	QR_DELIVERED = 0,
	QR_DEFER = 1,		/* temporary: retry later */
	QR_BOUNCE = 2,		/* permanent: DSN to the sender */
};

/* What became of one recipient, in the terms of RFC 8621 7 "delivered". */
enum queue_delivered {
	QD_QUEUED = 0,		/* not yet delivered: waiting or deferred */
	QD_YES = 1,		/* delivered into a local mailbox */
	QD_NO = 2,		/* bounced: it will not be delivered */
	QD_UNKNOWN = 3,		/* relayed to another server, which said 250 */
};

#endif
