/* mailindex_tomb.h — the expunge records of a folder index, for QRESYNC's
 * VANISHED (EARLIER) (RFC 7162). Internal to mailindex.c.
 *
 * In the index DB: "X" + modseq (8 octets, big-endian) -> uid (4 octets) for
 * each expunge, and "T" -> the count and the floor. Only a bounded number of
 * records is kept (mi_set_tombstone_limit, MI_MAX_TOMBSTONES): past that the
 * oldest go in one batch (down to 4/5 of the limit, so pruning is rare), and
 * the floor keeps the newest modseq dropped. A question about changes since a
 * modseq below the floor is answered with every UID under UIDNEXT the folder
 * no longer holds: a superset of the truth, which RFC 7162 allows (VANISHED
 * (EARLIER) may name UIDs the client never had), never an omission. */
#ifndef TERN_MAILINDEX_TOMB_H
#define TERN_MAILINDEX_TOMB_H

#include <db.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mi_tombs {
	bool loaded, dirty;
	uint32_t count;		/* records in the DB */
	uint64_t floor;		/* newest modseq whose record was dropped, 0 if none */
};

/* Record that uid was expunged at modseq (and prune when over the limit);
 * dir names the folder in the log. */
void tomb_add(DB *db, struct mi_tombs *t, uint64_t modseq, uint32_t uid, const char *dir);
/* UIDs expunged after modseq (malloc'd); uidnext bounds the superset. */
size_t tomb_since(DB *db, struct mi_tombs *t, uint64_t modseq, uint32_t uidnext, uint32_t **uids);
/* Write the count and floor if they changed. */
void tomb_save(DB *db, struct mi_tombs *t);

#endif
