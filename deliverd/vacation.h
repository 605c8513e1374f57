/* vacation.h — the local agent's auto-reply (RFC 3834) for a user whose
 * vacation response (common/vacation.h, set over JMAP) is on: after a
 * message is delivered to the user's Maildir, a reply goes back into the
 * queue from the null sender to the envelope sender, From the user, with
 * Auto-Submitted: auto-replied and In-Reply-To/References, at most once
 * per sender per period. No reply to the null sender, to mail that is
 * automatic itself (Auto-Submitted other than "no", Precedence bulk, list
 * or junk), to list mail (any List-* field) or list and daemon addresses
 * (owner-*, *-request, MAILER-DAEMON ...), to quarantined mail, or to the
 * user's own address. */
#ifndef TERN_DELIVERD_VACATION_H
#define TERN_DELIVERD_VACATION_H

#include <stdint.h>

struct vacation_in {
	const char *queue_sock;
	const char *mail_dir;
	const char *mailbox;	/* user@domain: the Maildir, and the From of the reply */
	const char *sender;	/* envelope sender, "" for <> */
	const char *qid;	/* of the message answered, for logs */
	const char *hostname;	/* for the Message-ID */
	uint32_t flags;		/* QF_* of the message */
	int fd;			/* the message (CRLF), size bytes from offset 0 */
	uint64_t size;
};

/* Send the reply when one is due (blocking: on a worker thread). Failures
 * are logged; the delivery stands whatever happens here. */
void vacation_reply(const struct vacation_in *in);

#endif
