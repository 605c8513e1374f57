/* threadid.h — which thread a message belongs to: JMAP's threadId
 * (RFC 8621 3) and IMAP's THREADID (RFC 8474 5) are the same id, made by one
 * algorithm and kept in one store, so the two protocols name a conversation
 * the same way.
 *
 * A message joins the thread of the first message it refers to (References,
 * then In-Reply-To) that has one, else a new thread. Every Message-ID it
 * names is remembered with the thread, so replies to the same message join
 * even when that message itself never arrived. A thread id is "T" + the 24
 * hex digits of the email that started it. The first process that asks for a
 * message's thread (imapd's FETCH/SEARCH THREADID, httpd's sync) fixes it.
 *
 * The store: Maildir/tern-threads.db (map.h btree; flock: one writer, shared
 * readers), records
 *   "H" + emailid    its thread id
 *   "m" + Message-ID the thread of that id
 *   "V"              "1": the records of an older tern-jmap.db were copied
 * Its lock is a leaf: a process may take it while it holds a folder's index
 * lock or the JMAP journal's, and takes no other lock while it holds it (so
 * imapd can ask in the middle of a FETCH). Sessions of both daemons are
 * confined to the Maildir, where the file lives.
 *
 * Before this store, httpd kept the same "H" and "m" records in its journal
 * (tern-jmap.db); threadid_migrate copies them once so the ids JMAP gave stay
 * the ids of both protocols. */
#ifndef TERN_THREADID_H
#define TERN_THREADID_H

#include "common/objectid.h"

#include <stdbool.h>
#include <stddef.h>

#define THREADID_DB	"tern-threads.db"	/* in the Maildir root (the cwd) */
#define THREADID_OLD_DB	"tern-jmap.db"		/* httpd's journal, where they were */
#define THREAD_HDR_MAX (256 * 1024)	/* header bytes read to find the ids */
#define THREAD_REFS_MAX 100		/* Message-IDs of References looked at */

/* Lookups and assignments of one command: a read handle while every id asked
 * is known, a writer (kept until threadid_end) from the first one that is
 * not. Zero-initialise. */
struct threadids {
	struct map *w;
	bool failed;		/* the store cannot be opened: say so once */
};

/* The thread of the message with emailid whose file is path: the stored one,
 * or assigned now (path's header read). false when the store is unavailable
 * (logged once per struct). */
bool threadid_get(struct threadids *t, const char *path, const char *emailid,
		  char out[OBJECTID_LEN + 1]);
/* The stored thread only (no assignment); false when none. */
bool threadid_known(struct threadids *t, const char *emailid, char out[OBJECTID_LEN + 1]);
/* Forget the message (its last copy is gone). */
void threadid_forget(struct threadids *t, const char *emailid);
/* Close the writer, if any (syncs what was assigned). */
void threadid_end(struct threadids *t);

/* Copy the "H" and "m" records of THREADID_OLD_DB once (then marker "V").
 * Reading the journal under a folder's index lock could deadlock with
 * httpd's sync (journal, then indexes), so this runs where no index lock is
 * held: at the start of an IMAP session, and in httpd's sync, which passes
 * its open journal as old (NULL: opened here for reading, if it exists). */
struct map;
void threadid_migrate(struct map *old);

/* The header of the message file at path in CRLF form (up to
 * THREAD_HDR_MAX), malloc'd; *len set. NULL when unreadable. */
char *thread_read_header(const char *path, size_t *len);

#endif
