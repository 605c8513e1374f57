/* submit.h — EmailSubmission's path to queued (proto.h HTTP_SUBMIT).
 *
 * A user's mail process may not reach queue.sock (it could then enqueue with
 * any envelope, or pose as a client of queued it is not). So it hands the
 * message it composed to the front, over a socketpair of its own made for
 * that one submission, and waits. The front holds what makes the submission
 * the user's: it authenticated the channel's user, asks authd whether the
 * envelope sender is one of that user's addresses (AUTH_SENDER_REQ, the
 * check smtpd makes for authenticated submission), writes its Received
 * header and queues the message through queue.sock (QUEUE_NEW/COMMIT with
 * QF_AUTH and the user, on a worker thread: the blocking client of
 * common/queue_submit.c never stalls the front's loop). From there the
 * message is any submitted message: the remote agent DKIM-signs it, queued
 * retries and bounces with DSNs. */
#ifndef TERN_HTTPD_SUBMIT_H
#define TERN_HTTPD_SUBMIT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct sess;

/* ---- front (submit_front.c) ---- */
void submit_front_init(void);
/* HTTP_SUBMIT arrived on user's channel: serve its socket fd (taken). */
void submit_front_start(const char *user, const char *client, int fd);

/* ---- mail process (submit_client.c) ---- */
struct submit_result {
	uint32_t status;	/* SUBMIT_* (proto.h) */
	char qid[65];
	char text[1025];
};
/* Queue the message in memfd fd (len bytes, CRLF; the fd is taken) from
 * sender to rcpts through the front; waits for its answer. */
void submit_message(struct sess *s, const char *sender, const char *const *rcpts, size_t n,
		    int fd, size_t len, struct submit_result *r);
/* The addresses the user may send as (authd, through the front): a JSON
 * array of strings, the login address first; NULL when the front or authd
 * cannot answer now. */
json_t *submit_addresses(struct sess *s);
/* The delivery status of n (1 to SUBMIT_STATUS_MAX) of the user's queue ids
 * (queued, through the front): an array of n, each a JSON object of
 * RFC 8621 7 DeliveryStatus by recipient address, null when queued does not
 * know the message (finished and forgotten, or not this user's), or false
 * when it could not be asked. NULL when the front cannot answer. */
json_t *submit_status(struct sess *s, const char *const *qids, size_t n);

#endif
