/* journal.h — what a user's JMAP view of the account remembers between
 * requests and between mail processes: Maildir/tern-jmap.db, a map.h
 * btree (flock: one writer, the mail process that syncs).
 *
 *   "N"            {"epoch": E, "n": last change, "TYPE": last change of TYPE...}
 *   "S"            the folders as last seen (account.c)
 *   "C" + n        change n: {"TYPE": {"c": [ids], "u": [ids], "d": [ids],
 *                  "k": [ids updated in counts only]}} (at most JOURNAL_KEEP)
 *   "U" + mailbox ":" + uid  "emailid threadid unread" of a message seen
 *   "E" + emailid  "mailbox uid": where the message is
 *   "t" + thread   the thread's email ids, space-separated, oldest first
 *                  (which thread an email is in: common/threadid.h, whose
 *                  "H" and "m" records were kept here before; they stay,
 *                  unread, once copied)
 *   "P" + mailbox ":" + thread  "emails unread": a thread's count in a folder
 *   "O" + TYPE ":" + id  stored objects of the types kept here (submissions,
 *                  identities, vacation response)
 *
 * A state string is "EPOCH.n" (n the last change of its type); the epoch is
 * random per journal, so the states of a lost and rebuilt journal are
 * unknown to it (cannotCalculateChanges), never misread. */
#ifndef TERN_HTTPD_JOURNAL_H
#define TERN_HTTPD_JOURNAL_H

#include "common/threadid.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define JOURNAL_FILE THREADID_OLD_DB	/* "tern-jmap.db" */
#define JOURNAL_KEEP 20000	/* change records kept */

struct map;

struct journal {
	struct map *m;
	json_t *n;		/* the "N" record */
	bool write;
};

/* Open the journal (creating it for write). NULL on error (logged). */
struct journal *journal_open(bool write);
void journal_close(struct journal *j);

char *journal_get(struct journal *j, const char *key);	/* malloc'd, NULL if none */
void journal_put(struct journal *j, const char *key, const char *val);
void journal_del(struct journal *j, const char *key);
json_t *journal_get_json(struct journal *j, const char *key);
void journal_put_json(struct journal *j, const char *key, json_t *v);	/* v kept */

/* The state string of type, malloc'd. */
char *journal_state(struct journal *j, const char *type);
/* Every type's state: {"TYPE": "state"}. */
json_t *journal_states(struct journal *j);
/* Record one change (the types with something in changes: {"TYPE":
 * {"c","u","d","k"}}); drops the oldest record beyond JOURNAL_KEEP. */
void journal_record(struct journal *j, json_t *changes);

/* The changes of type since state (RFC 8620 5.2 /changes), merged over the
 * records after it: at most max ids (0: no bound). Fills created, updated,
 * destroyed (arrays), *counts_only (every update was counts-only), new_state
 * (malloc'd) and *more. -1: the state is not one this journal can tell
 * (cannotCalculateChanges). */
struct jchanges {
	json_t *created, *updated, *destroyed;
	bool counts_only, more;
	char *new_state;
};
int journal_changes(struct journal *j, const char *type, const char *since, uint64_t max,
		    struct jchanges *out);
void jchanges_free(struct jchanges *c);

#endif
