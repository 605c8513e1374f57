/* queue_submit.h — a blocking submission through queued (RUN/queue.sock), for
 * programs without an event loop or on worker threads: `mailctl sendmail`, the
 * local agent forwarding to remote alias targets, reports made by mailctl.
 * The protocol is queue_proto.h's QUEUE_NEW / QUEUE_COMMIT. */
#ifndef TERN_QUEUE_SUBMIT_H
#define TERN_QUEUE_SUBMIT_H

#include <stddef.h>
#include <stdint.h>

struct queue_submission {
	int sock;		/* connection to queued */
	int fd;			/* the new spool file: write the whole message here */
	char qid[65];
};

struct queue_envelope {
	const char *sender;	/* "" for the null sender */
	uint32_t flags;		/* QF_* */
	const char *client;	/* for queued's log */
	const char *auth_user;	/* NULL, or the authenticated user who submits */
	size_t nrcpt;
	const char *const *rcpts;
	const char *const *orcpts;	/* NULL, or "rfc822;addr" (xtext) per recipient */
	const char *prepend;	/* NULL, or header fields put on top at delivery */
};

/* Connect and get a new spool file. While queued cannot be reached (it is
 * restarting) keep trying for up to wait_ms: nothing has been handed over, so
 * retrying never duplicates. Returns QS_OK with s filled in, else a queue_status
 * with err set (nothing left open). */
uint32_t queue_submit_open(const char *sock_path, uint64_t wait_ms, struct queue_submission *s,
			   char *err, size_t errlen);
/* Close the spool file and commit it with env; waits up to timeout_ms for
 * queued's answer (only QS_OK means the message is on disk and queued). No
 * answer gives QS_TEMPFAIL and err says the message may or may not be queued. */
uint32_t queue_submit_commit(struct queue_submission *s, const struct queue_envelope *env,
			     int timeout_ms, char *err, size_t errlen);
/* Discard the uncommitted spool file. */
void queue_submit_abort(struct queue_submission *s);

#endif
