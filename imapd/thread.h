/* thread.h — THREAD=REFERENCES (RFC 5256 section 3, after Jamie Zawinski's
 * algorithm): threads from Message-ID / References / In-Reply-To, then roots
 * merged by base subject, siblings ordered by sent date; and THREAD=REFS. */
#ifndef TERN_IMAPD_THREAD_H
#define TERN_IMAPD_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evbuffer;

struct thread_msg {
	const char *msgid;	/* Message-ID header (NULL if none) */
	const char *refs;	/* References header (NULL if none) */
	const char *subject;	/* base subject, upper-cased */
	int64_t date;		/* sent date */
	bool reply;		/* the subject was a reply or forward */
	uint32_t number;	/* sequence number or UID to print */
	const char *in_reply_to;	/* In-Reply-To header, used when References has no id */
};

/* Append the whole "* THREAD ...\r\n" response for msgs (in sequence order).
 * refs selects THREAD=REFS (Dovecot's, named in draft-ietf-morg-inthread):
 * the same parent links and sibling order, but no step 5 (threads are never
 * joined by subject: a reply that lost its References stays apart) and the
 * threads ordered by the newest message each holds rather than by the root's
 * date, so the thread with the latest activity comes last. */
void thread_references(struct evbuffer *out, const struct thread_msg *msgs, size_t n, bool refs);

/* The next valid msg-id ("<left@right>" without the brackets, comments and
 * white space dropped, quotes undone) of a header value from *p, advanced
 * past it: true and out filled (truncated to cap), or false when none is left. */
bool thread_next_msgid(const char **p, char *out, size_t cap);

#endif
