/* maildrop.h — one user's Maildir as a POP3 maildrop (RFC 1939 + Maildir
 * rules, so imapd, deliverd and other Maildir tools can act on it at the same
 * time):
 *  - exclusive: a lock file in the Maildir held with flock (one POP3 session
 *    per mailbox; the lock dies with the session process);
 *  - at the start new/ messages move to cur/ (adding ":2,"), then cur/ is
 *    listed oldest first;
 *  - a message is found again by its unique name (the base before ':') when
 *    another client renamed it (flag change) since the listing;
 *  - UIDL is the unique name (hashed when it is not a valid POP3 unique-id),
 *    which never changes for a message;
 *  - sizes: ",W=" in the name (deliverd stores LF endings and records the CRLF
 *    size), else counted from the file. */
#ifndef TERN_POP3D_MAILDROP_H
#define TERN_POP3D_MAILDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define UIDL_MAX 70
#define MAILDROP_LOCK "tern-pop3.lock"

struct msg {
	char *name;		/* file name in cur/ (may change: see maildrop_open_msg) */
	size_t baselen;		/* unique part: name[0..baselen) */
	char uidl[UIDL_MAX + 1];
	uint64_t size;		/* octets of the CRLF form */
	struct timespec mtime;	/* delivery order */
	bool deleted;
	bool retrieved;		/* RETR'd in this session (EXPIRE 0) */
};

struct maildrop {
	int dirfd, curfd, lockfd;
	struct msg *msgs;
	size_t n;
	uint64_t total;		/* octets of all messages */
};

enum md_lock { MD_LOCKED, MD_INUSE, MD_DELAY, MD_ERROR };

/* Open (creating if missing) the Maildir at path; -1 with errno. */
int maildrop_open(struct maildrop *md, const char *path);
/* Take the session lock; login_delay (seconds, 0 = none) since the last login. */
enum md_lock maildrop_lock(struct maildrop *md, unsigned login_delay);
/* Move new/ to cur/ and list at most max messages; 0 or -1 with errno. */
int maildrop_scan(struct maildrop *md, size_t max);
/* Open message i for reading; -1 if it is gone (expunged by another client). */
int maildrop_open_msg(struct maildrop *md, size_t i);
/* Remove the messages marked deleted; returns how many could not be removed. */
size_t maildrop_update(struct maildrop *md, size_t *removed);
/* Release the session lock (after UPDATE, before the QUIT reply, so a client
 * that reconnects at once is not told the mailbox is in use). */
void maildrop_unlock(struct maildrop *md);
void maildrop_close(struct maildrop *md);

/* Pure helpers (unit-tested). */
/* Length of the unique part of a Maildir file name (before ':'). */
size_t maildir_baselen(const char *name);
/* Value of ",KEY=digits" inside the unique part; false if absent. */
bool maildir_field(const char *name, size_t baselen, char key, uint64_t *out);
/* RFC 1939 unique-id (1-70 chars 0x21-0x7E) for a unique name. */
void maildir_uidl(const char *base, size_t len, char out[UIDL_MAX + 1]);

#endif
