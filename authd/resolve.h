/* resolve.h — what an address means, from the directory: recipient checks,
 * sender checks and alias expansion (auth_proto.h RCPT, SENDER, EXPAND). */
#ifndef TERN_AUTHD_RESOLVE_H
#define TERN_AUTHD_RESOLVE_H

#include "common/auth_boxes.h"
#include "common/auth_proto.h"
#include "common/directory.h"

#include <stdbool.h>
#include <stdint.h>

#define RESOLVE_MAX_BOXES 256	/* final mailboxes of one expansion */
_Static_assert(RESOLVE_MAX_BOXES <= AUTH_MAX_BOXES, "an expansion must fit one reply");

struct resolved_box {
	char mailbox[USERDB_MAX_ADDR];
	char folder[USERDB_MAX_LOCAL + 1];	/* "" or the +detail */
	uint64_t quota;
	char host[USERDB_MAX_HOST + 1];	/* the mailbox host ("" = none) */
	bool remote;		/* an address outside our domains: forwarded, not stored */
};

struct expansion {
	size_t n;
	unsigned remote;	/* how many of box[] are remote targets */
	struct resolved_box box[RESOLVE_MAX_BOXES];
};

struct site;
/* enum rcpt_kind for address. site: this host's place in a site of several,
 * NULL for one host (every user of ours is stored here). For RCPT_RELAY,
 * host (unless NULL) gets the user's mailbox host ("" when the directory
 * names none: a front-end has nowhere to put that user's mail). */
enum rcpt_kind resolve_rcpt(struct directory *db, const struct site *site, const char *address,
			    char host[USERDB_MAX_HOST + 1]);
/* 1 user may send as address (its own, +detail of it, or an alias that leads to
 * it), 0 not, -1 database error. */
int resolve_sender(struct directory *db, const char *user, const char *address);
/* The addresses user may send as into out (at most max): the user's own
 * first, then every alias key (not a catch-all) that resolve_sender
 * accepts for user, in the directory's order. The count (0: no such
 * user), or -1 database error. Reads the whole alias list: O(aliases). */
int resolve_addresses(struct directory *db, const char *user, char (*out)[USERDB_MAX_ADDR],
		      size_t max);
/* Expand address to its final local mailboxes and the remote addresses its
 * aliases forward to. max_depth bounds alias nesting. With a site, a user
 * whose mailbox host is another host is a remote target too (its address,
 * +detail kept): the queue takes the forwarded copy to that host. */
enum expand_status resolve_expand(struct directory *db, const struct site *site,
				  const char *address, unsigned max_depth, struct expansion *out);

#endif
