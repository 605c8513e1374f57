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
 * there and are read again), finishes step 2 for committed runs (removes the
 * sources still present) and flushes what is left. Only a crash between
 * queueing one mail and removing its file can repeat that one mail. */
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
/* Step 3 for every committed run (after cleaning up as described above).
 * Stops at the first temporary failure: returns false then. */
bool outbox_flush(const char *dmarc_dir, outbox_send_fn send, void *arg);

#endif
