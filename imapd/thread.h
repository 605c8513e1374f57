/* thread.h — THREAD=REFERENCES (RFC 5256 section 3, after Jamie Zawinski's
 * algorithm): threads from Message-ID / References / In-Reply-To, then roots
 * merged by base subject, siblings ordered by sent date. */
#ifndef TERN_IMAPD_THREAD_H
#define TERN_IMAPD_THREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evbuffer;

struct thread_msg {
	const char *msgid;	/* Message-ID header (NULL if none) */
	const char *refs;	/* References, else In-Reply-To (NULL if none) */
	const char *subject;	/* base subject, lower-cased */
	int64_t date;		/* sent date */
	bool reply;		/* the subject was a reply or forward */
	uint32_t number;	/* sequence number or UID to print */
};

/* Append the whole "* THREAD ...\r\n" response for msgs (in arrival order). */
void thread_references(struct evbuffer *out, const struct thread_msg *msgs, size_t n);

#endif
