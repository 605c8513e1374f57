/* dmarc_outbox.h — report mails between aggregation and the queue, so that a
 * run interrupted anywhere (crash, queued unreachable) neither loses nor
 * repeats a report (dmarc_outbox.c):
 *
 *   1. every mail of a run is written into SPOOL/dmarc/outbox/RUN.tmp/ (fsync);
 *   2. commit: the names of the record files the run read go into
 *      RUN.tmp/sources, RUN.tmp is renamed to RUN (the commit point), then
 *      those record files are removed;
 *   3. flush: each mail of each committed RUN is queued, then removed.
 *
 * The next run first deletes RUN.tmp leftovers (their records are still
 * there and are read again) and finishes step 2 for committed runs (removes
 * the sources still present), then flushes what is left with its own. Only a
 * crash between queueing one mail and removing its file can repeat that one
 * mail.
 *
 * A report for an https: URI (RFC 8460 3) is a POST instead of a mail: the
 * run keeps its body in the outbox like a mail; one that could not be posted
 * stays there for the next flush (which says how old it is, so the poster
 * can give up), without holding back the mails and posts after it. */
#ifndef TERN_MAILCTL_DMARC_OUTBOX_H
#define TERN_MAILCTL_DMARC_OUTBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct outbox {
	char *dir;		/* SPOOL/dmarc */
	char *tmp;		/* outbox/RUN.tmp while building, NULL otherwise */
	char *final;		/* outbox/RUN */
	unsigned n;
};

/* Start a run's directory. 0 or -1 (errno). */
int outbox_begin(struct outbox *ob, const char *dmarc_dir);
/* One mail: envelope sender, recipient, the policy domain (for messages),
 * the message. 0 or -1 (errno). */
int outbox_add(struct outbox *ob, const char *sender, const char *rcpt, const char *domain,
	       const char *mail);
/* Steps 2: sources are paths of record files inside dmarc_dir. 0 or -1. */
int outbox_commit(struct outbox *ob, char *const *sources, size_t n);
/* One POST of body (media type ctype) to url, for the policy domain domain.
 * 0 or -1 (errno). */
int outbox_add_post(struct outbox *ob, const char *url, const char *ctype, const char *domain,
		    const unsigned char *body, size_t len);
/* Drop an uncommitted run (its records stay for the next run). */
void outbox_abort(struct outbox *ob);

/* Queues one mail; returns a queue status (QS_*). */
typedef uint32_t (*outbox_send_fn)(void *arg, const char *sender, const char *rcpt,
				   const char *domain, const char *mail);
/* Queue one report mail the way `mailctl sendmail` does (client names the
 * report kind in the queue's logs); a queue_status, err says why when not OK. */
struct instance;
uint32_t outbox_queue_mail(const struct instance *in, const char *client, const char *sender,
			   const char *rcpt, const char *mail, char *err, size_t errlen);
/* Posts one report; age: seconds since its run was committed. true when
 * the post is done with (delivered, or given up), false to keep it. */
typedef bool (*outbox_post_fn)(void *arg, const char *url, const char *ctype, const char *domain,
			       const unsigned char *body, size_t len, uint64_t age);
struct outbox_senders {
	outbox_send_fn mail;
	outbox_post_fn post;
	void *arg;
};
/* The clean-up described above, without sending: before the records are
 * rotated, so that those of a committed run are never read twice. */
void outbox_recover(const char *dmarc_dir);
/* Step 3 for every committed run, oldest first (after the clean-up). Stops
 * at the first temporary failure of the queue: returns false then. */
bool outbox_flush(const char *dmarc_dir, const struct outbox_senders *s);

#endif
