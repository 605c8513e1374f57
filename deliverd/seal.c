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

static void log_clear(const struct mdeliver *d, const char *why)
{
	log_warn("%s: to=<%s>: storing in clear (encrypt_failure = deliver_clear): %s", d->qid,
		 d->mailbox, why);
}

static void defer(const struct mdeliver *d, const char *why, struct mresult *r)
{
	mresult_set(r, MD_DEFER, "4.7.5", "cannot encrypt for %s: %s", d->mailbox, why);
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
	*keyed = k != 0;
	enum mc_plan p = mc_plan_for(k, *key, d->crypt, time(NULL), why, sizeof why);
	if (p != MC_PLAN_SEAL)
		*key = NULL;	/* no key: the user's mail is stored in clear, as always */
	if (p == MC_PLAN_CLEAR_FALLBACK)
		log_clear(d, why);
	if (p == MC_PLAN_REFUSE)
		defer(d, why, r);
	return p == MC_PLAN_REFUSE ? -1 : 0;
}

int seal_write(const struct mdeliver *d, const struct mc_key *key, int out, uint64_t *s,
	       uint64_t *lfs, struct mresult *r)
{
	char why[512] = "";
	struct mc_counts c;
	int k = mc_seal_policy(key, d->crypt, d->fd, d->size, out, *s, &c, why, sizeof why);
	if (k == MC_SEALED) {
		*s += c.bytes;
		*lfs += c.lfs;
		return SEAL_DONE;
	}
	if (k == MC_FELL_BACK)
		log_clear(d, why);
	if (k == MC_AS_IS || k == MC_FELL_BACK)
		return SEAL_CLEAR;
	if (k == MC_ERR_CRYPTO) {
		defer(d, why, r);
	} else {
		int e = errno;
		mresult_set(r, MD_DEFER, e == ENOSPC || e == EDQUOT ? "4.3.1" : "4.3.0",
			    "cannot write to mailbox: %s", *why ? why : strerror(e));
	}
	return SEAL_FAILED;
}
