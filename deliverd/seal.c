/* seal.c — encryption at rest in local delivery: the mailbox owner's key is
 * read from the Maildir at every delivery (so an import applies at once, and
 * a deferred message goes out encrypted as soon as a usable key is there);
 * the message is read from the spool file and only its sealed form is
 * written into tmp/, so no clear copy touches the Maildir. Parsed keys stay
 * in each worker thread's cache while their file is unchanged. */
#include "deliverd/seal.h"
#include "common/log.h"
#include "common/mailcrypt.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The site's choice when the key cannot be used: 0 = store in clear (with a
 * warning), -1 = defer (r set). */
static int key_failure(const struct mdeliver *d, const char *why, struct mresult *r)
{
	if (d->crypt->clear_on_failure) {
		log_warn("%s: to=<%s>: storing in clear (encrypt_failure = deliver_clear): %s",
			 d->qid, d->mailbox, why);
		return 0;
	}
	mresult_set(r, MD_DEFER, "4.7.5", "cannot encrypt for %s: %s", d->mailbox, why);
	return -1;
}

int seal_plan(const struct mdeliver *d, const char *base, const struct mc_key **key, bool *keyed,
	      struct mresult *r)
{
	char why[512] = "";
	*key = NULL;
	*keyed = false;
	if (!d->crypt)
		return 0;
	int k = mc_key_load_cached(base, key, why, sizeof why);
	if (k == 0)
		return 0;	/* no key: the user's mail is stored in clear, as always */
	*keyed = true;
	if (k > 0 && mc_key_usable(*key, time(NULL), why, sizeof why) == 0)
		return 0;
	*key = NULL;
	return key_failure(d, why, r);
}

/* Take back what a failed seal wrote from offset at on. */
static int rewind_to(int out, uint64_t at)
{
	return ftruncate(out, (off_t)at) == 0 && lseek(out, (off_t)at, SEEK_SET) == (off_t)at ? 0 : -1;
}

int seal_write(const struct mdeliver *d, const struct mc_key *key, int out, uint64_t *s,
	       uint64_t *lfs, struct mresult *r)
{
	char why[512] = "";
	struct mc_counts c;
	int k = mc_seal(key, d->crypt, d->fd, d->size, out, &c, why, sizeof why);
	if (k == MC_SEALED) {
		*s += c.bytes;
		*lfs += c.lfs;
		return SEAL_DONE;
	}
	if (k == MC_AS_IS)
		return SEAL_CLEAR;
	if (k == MC_ERR_IO) {
		int e = errno;
		mresult_set(r, MD_DEFER, e == ENOSPC || e == EDQUOT ? "4.3.1" : "4.3.0",
			    "cannot write to mailbox: %s", why);
		return SEAL_FAILED;
	}
	if (key_failure(d, why, r) < 0)
		return SEAL_FAILED;
	if (rewind_to(out, *s) < 0) {
		mresult_set(r, MD_DEFER, "4.3.0", "cannot write to mailbox: %s", strerror(errno));
		return SEAL_FAILED;
	}
	return SEAL_CLEAR;
}
