/* proto.h — the channels of tern-httpd (common/ipc.h frames).
 *
 * Hand-off, on RUN/http-mail.sock (front -> mail role), once per user and
 * front process: HTTP_HANDOFF, the login hand-off of common/login_handoff.h
 * (user (canonical), token (from authd, service "http"), client address; no
 * tag, no flags, nothing pending: the front ends TLS and HTTP), one end of
 * a socketpair attached. The mail role checks the peer uid and the token,
 * and forks that user's mail process on the fd; a refusal closes it.
 *
 * Requests, on that socketpair (front <-> the user's mail process), each
 * frame's ipc id being the request id the answer echoes. The front has
 * authenticated every request it sends; the mail process never sees HTTP.
 *   HTTP_REQ   front -> mail: u32 kind (REQ_*), str arg (see below), str
 *              content type, u64 body length, bytes body (up to
 *              CHAN_INLINE_MAX; a longer body comes as an attached memfd).
 *              arg: REQ_DOWNLOAD "accountId/blobId/name?accept=TYPE" as in
 *              the URL (still %-encoded), REQ_UPLOAD the accountId,
 *              REQ_EVENTS the query string, else "".
 *   HTTP_RES   mail -> front: u32 status, str content type, str extra header
 *              lines ("Name: value\n" each), u64 body length, bytes body (or
 *              a memfd, as above). REQ_EVENTS gets HTTP_RES (200: the stream
 *              starts, with no body) and then HTTP_EVENT frames.
 *   HTTP_EVENT mail -> front: str one complete text/event-stream event.
 *   HTTP_CANCEL front -> mail: the client of stream (id) went away.
 *   HTTP_SUBMIT mail -> front: no fields; one end of a fresh socketpair
 *              attached, on which the mail process asks the front one thing
 *              and waits for the answer: queue one message (EmailSubmission)
 *              or list the user's addresses (Identity):
 *     SUBMIT_REQ  mail -> front: str envelope sender, u32 nrcpt (1 to
 *                 QUEUE_MAX_RCPTS), nrcpt str recipients, u64 message
 *                 length; the message (CRLF, as it will be sent) attached
 *                 as a memfd.
 *     SUBMIT_RES  front -> mail: u32 status (SUBMIT_*), str queue id, str text.
 *     ADDRS_REQ   mail -> front: no fields.
 *     ADDRS_RES   front -> mail: u32 status (SUBMIT_OK or SUBMIT_TEMPFAIL),
 *                 u32 n (at most AUTH_MAX_ADDRESSES), n str: the addresses
 *                 authd says the channel's user may send as, its own first
 *                 (AUTH_ADDRESSES_REQ: the same rule as the sender check).
 *     STATUS_REQ  mail -> front: u32 n (1 to SUBMIT_STATUS_MAX), n str queue
 *                 ids of the user's submissions (EmailSubmission's id less
 *                 its "S").
 *     STATUS_RES  front -> mail: n frames, in the order asked, each with the
 *                 fields of QUEUE_STATUS_RES (common/queue_codec.h): QS_OK and
 *                 the recipients, QS_NOTFOUND, or QS_TEMPFAIL when queued
 *                 could not be asked. The front asks queued with the user it
 *                 authenticated on this channel (QUEUE_STATUS_REQ); queued
 *                 answers only for messages that user submitted.
 *   The front, which authenticated the user of this channel, checks the
 *   sender with authd (AUTH_SENDER_REQ, as smtpd does for submission) and
 *   queues the message through queue.sock like smtpd; the mail process never
 *   reaches queued (issue 19: sessions cannot reach queue.sock).
 * A malformed frame closes the channel (the mail process then exits). */
#ifndef TERN_HTTPD_PROTO_H
#define TERN_HTTPD_PROTO_H

enum http_msg {
	HTTP_HANDOFF = 400,
	HTTP_REQ,
	HTTP_RES,
	HTTP_EVENT,
	HTTP_CANCEL,
	HTTP_SUBMIT,
	SUBMIT_REQ,
	SUBMIT_RES,
	ADDRS_REQ,
	ADDRS_RES,
	STATUS_REQ,
	STATUS_RES,
};

enum submit_status {
	SUBMIT_OK = 0,		/* queued: the queue id says where */
	SUBMIT_SENDER = 1,	/* the sender is not one of the user's addresses */
	SUBMIT_TEMPFAIL = 2,	/* authd or queued unreachable, or no space */
	SUBMIT_REJECT = 3,	/* refused for good (text says why) */
};

enum http_req_kind {
	REQ_SESSION = 1,	/* GET the JMAP session resource */
	REQ_API,		/* POST an API request */
	REQ_UPLOAD,		/* POST a blob */
	REQ_DOWNLOAD,		/* GET a blob */
	REQ_EVENTS,		/* GET the event source (push) */
};

#define CHAN_INLINE_MAX (64 * 1024)	/* bodies above travel as a memfd */
#define CHAN_ARG_MAX 4096
#define CHAN_HDR_MAX 4096
#define CHAN_EVENT_MAX (64 * 1024)
#define SUBMIT_ADDR_MAX 512	/* an envelope address */
#define SUBMIT_TEXT_MAX 1024
#define SUBMIT_STATUS_MAX 64	/* queue ids in one STATUS_REQ */

#endif
