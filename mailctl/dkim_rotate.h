/* dkim_rotate.h — DKIM key files of a domain and their rotation
 * (`mailctl dkim keygen|rotate`, cmd_dkim.c, dkim_rotate.c).
 *
 * In DIR/dkim/DOMAIN/, per selector S:
 *   S.key          the private key the remote agent signs with (the last in
 *                  name order when several; dkim_selectors may name one)
 *   S.txt          the TXT record value: `mailctl dns` prints every one
 *   S.key.staged   a key made by `rotate`, not yet signed with (the agent
 *                  loads only *.key)
 *   S.retired      a selector no longer signed with: the time (seconds since
 *                  the epoch) until which its record stays published, so that
 *                  mail signed before the switch still verifies
 * `rotate` moves a domain along: stage a new key; once the staged selector's
 * record is seen in DNS, sign with it (the old key is removed, its record kept
 * for the grace period); after the grace period, drop the old record and tell
 * the admin to remove it from DNS. A new rotation starts only after that. */
#ifndef TERN_MAILCTL_DKIM_ROTATE_H
#define TERN_MAILCTL_DKIM_ROTATE_H

#include "common/dkim.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DKIM_STAGED_SUFFIX ".key.staged"
#define DKIM_RETIRED_SUFFIX ".retired"
#define DKIM_GRACE_DAYS 7	/* default: a week covers retried and forwarded mail */

/* Make a key for selector in ddir: SELECTOR<key_suffix> (0600, given to the
 * remote agent's account when root) and SELECTOR.txt. Prints the record to
 * publish. 0, or -1 after saying why (an existing key is never overwritten). */
int dkim_write_key(const char *ddir, const char *domain, const char *selector,
		   const char *key_suffix, enum dkim_alg alg);
/* The zone-file line of a DKIM record, strings of at most 250 bytes. */
void dkim_print_record(const char *selector, const char *domain, const char *txt);

enum dkim_rotate_state {
	DKIM_ROT_ERROR = -1,
	DKIM_ROT_STAGED,	/* a new key was made; publish its record */
	DKIM_ROT_WAITING,	/* the staged record is not (yet) in DNS */
	DKIM_ROT_SWITCHED,	/* signing moved to the staged selector */
	DKIM_ROT_TEMPFAIL,	/* DNS could not say; try again */
	DKIM_ROT_RETIRING,	/* an old selector is in its grace period */
	DKIM_ROT_RETIRED,	/* an old selector's record was dropped: remove it */
	DKIM_ROT_BLOCKED,	/* published, but dkim_selectors names another selector */
};

struct dkim_rotate_opts {
	const char *selector;	/* the new selector (NULL: tern-YYYYMMDD) */
	enum dkim_alg alg;
	uint64_t grace;		/* seconds the old record stays published */
	uint64_t now;		/* seconds since the epoch */
	const char *named;	/* what deliverd.conf dkim_selectors names for the
				 * domain (NULL: nothing): the agent signs only with
				 * that key, so no switch to another selector */
	const char *conf_path;	/* deliverd.conf, for saying what to change */
};

/* One step for domain, whose keys are in ddir (common/dns must be set up):
 * retire what is due; switch to the staged key if DNS serves its record (and
 * dkim_selectors does not name another selector: then say exactly what to
 * change); with nothing staged or retiring, stage a new key. Says each step
 * on stdout. */
enum dkim_rotate_state dkim_rotate(const char *ddir, const char *domain,
				   const struct dkim_rotate_opts *o);

/* Has the domain a staged or retiring selector (a step for the master's
 * scheduled run to take; it never stages one itself)? */
bool dkim_rotate_pending(const char *ddir);

/* The p= value of a DKIM record, whitespace removed, into out; false if none. */
bool dkim_txt_key(const char *txt, char *out, size_t len);

#endif
