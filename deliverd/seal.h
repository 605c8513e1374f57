/* seal.h — encryption at rest in local delivery (PRODUCT.md 6, issue 14):
 * whether a mailbox's mail is sealed to its owner's key (common/mailcrypt.h),
 * and the site's policy when that key cannot be used (encrypt_failure). */
#ifndef TERN_DELIVERD_SEAL_H
#define TERN_DELIVERD_SEAL_H

#include "deliverd/maildir.h"

struct mc_key;

/* The key to seal with in *key (NULL: store in clear; it belongs to the
 * thread's key cache), and in *keyed whether the mailbox has a key file at
 * all. 0, or -1 when the delivery must wait (r says why: an unreadable,
 * expired or unusable key under `defer`). */
int seal_plan(const struct mdeliver *d, const char *base, const struct mc_key **key, bool *keyed,
	      struct mresult *r);

enum { SEAL_DONE, SEAL_CLEAR, SEAL_FAILED };

/* Write the message sealed to key at the current offset of out, adding the
 * bytes and LFs written to *s and *lfs. SEAL_CLEAR: nothing is left written
 * and the caller stores the message in clear (it arrived encrypted, or
 * encryption failed and the site chose deliver_clear); SEAL_FAILED: r set. */
int seal_write(const struct mdeliver *d, const struct mc_key *key, int out, uint64_t *s,
	       uint64_t *lfs, struct mresult *r);

#endif
