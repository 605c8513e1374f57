/* maildir_quota.h — the one count of a Maildir++'s usage under a quota, for
 * delivery (deliverd) and IMAP QUOTA alike.
 *
 * Usage is the bytes of the message files in new/ and cur/ of the mailbox and
 * of every folder (".NAME" with a valid name): the ",S=" size in a file's name
 * when it has one (what deliverd writes), else the size of the regular file.
 * The Maildir++ maildirsize file caches it: a quota line, then "bytes count"
 * lines that writers append. The cache is recounted when missing, of another
 * quota, larger than MDQ_MAX_BYTES, older than MDQ_MAX_AGE, or older than a
 * change to the mailbox or any folder (an mtime of the directory or of its
 * new/ or cur/ later than maildirsize's ctime, which its rename into the
 * mailbox and every append set): so an IMAP APPEND, EXPUNGE or flag change,
 * a POP3 DELE or a JMAP import is counted by the next reader, whoever wrote
 * it. A change within the same clock tick as the cache's last write can go
 * unseen until the next change or MDQ_MAX_AGE. */
#ifndef TERN_MAILDIR_QUOTA_H
#define TERN_MAILDIR_QUOTA_H

#include <stdint.h>

#define MDQ_MAX_BYTES	5120
#define MDQ_MAX_AGE	900	/* seconds */

/* Usage of the Maildir++ at base, counted now from its folders. */
uint64_t mdq_count(const char *base);
/* Usage under quota, from maildirsize when it is current (else counted and
 * maildirsize rewritten). */
uint64_t mdq_usage(const char *base, uint64_t quota);
/* Record a delivery of bytes (one O_APPEND line; nothing without a
 * maildirsize). */
void mdq_add(const char *base, uint64_t bytes);

#endif
