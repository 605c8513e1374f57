/* maildir.h — delivery of one message into one Maildir++ mailbox.
 *
 * The message is stored with LF line endings (Maildir convention) after a
 * `Return-Path:` and a `Delivered-To:` header, written to tmp/, fsync'd and
 * linked into new/ under a name derived from the queue id and the mailbox:
 *   QUEUEID.HASH.HOST,S=<bytes on disk>,W=<bytes with CRLF line endings>
 * so a redelivery after a crash finds the first copy (in new/, or in cur/ if
 * a client already saw it) instead of making a second one. */
#ifndef TERN_DELIVERD_MAILDIR_H
#define TERN_DELIVERD_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mc_opts;

struct mdeliver {
	const char *mail_dir;	/* MAIL */
	const char *mailbox;	/* user@domain */
	const char *folder;	/* "" = INBOX, else the +detail folder if it exists */
	const char *sender;	/* envelope sender ("" = null sender) */
	const char *qid;
	const char *hostname;
	const char *prepend;	/* header fields (CRLF lines) to write first, or NULL */
	int fd;			/* spool file */
	uint64_t size;		/* message bytes in fd */
	uint64_t quota;		/* bytes, 0 = none */
	bool quota_bounce;	/* over quota: bounce instead of defer */
	const struct mc_opts *crypt;	/* encryption at rest (seal.h); NULL: never */
};

enum { MD_DELIVERED = 0, MD_DEFER = 1, MD_BOUNCE = 2 };	/* = QR_* */

struct mresult {
	int result;
	char status[16];
	char text[256];
	char path[1024];	/* delivered file (for logs) */
};

/* Deliver; with d->crypt, sealed to the key in the Maildir when it has one
 * (seal.h). The quota is checked against the message as it came. */
int maildir_deliver(const struct mdeliver *d, struct mresult *r);

/* Fill a result. */
void mresult_set(struct mresult *r, int result, const char *status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Loop checks over the message header: hops counts Received and Delivered-To
 * fields; *has_dt is set if a Delivered-To equals mailbox (case-insensitive). */
void maildir_scan_header(int fd, uint64_t size, const char *mailbox, unsigned *hops, bool *has_dt);


/* Valid local part / domain for a path component. */
bool maildir_safe_component(const char *s);

#endif
