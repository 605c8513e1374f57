/* mailcrypt_policy.c — tern.conf encrypt_failure applied in one place: a key
 * that cannot be read, parsed or used now, or an encryption that fails, either
 * refuses the store (the caller defers or answers NO) or, with
 * deliver_clear, lets the message be stored as it came (the caller logs). */
#include "common/mailcrypt.h"

#include <stdio.h>
#include <unistd.h>

enum mc_plan mc_plan_for(int loaded, const struct mc_key *key, const struct mc_opts *o, time_t now,
			 char *why, size_t whylen)
{
	if (loaded == 0)
		return MC_PLAN_CLEAR;
	if (loaded > 0 && key && mc_key_usable(key, now, why, whylen) == 0)
		return MC_PLAN_SEAL;
	return o->clear_on_failure ? MC_PLAN_CLEAR_FALLBACK : MC_PLAN_REFUSE;
}

enum mc_plan mc_plan_maildir(const char *maildir, const struct mc_opts *o, struct mc_key **key,
			     char *why, size_t whylen)
{
	int loaded = mc_key_load(maildir, key, why, whylen);
	enum mc_plan p = mc_plan_for(loaded, *key, o, time(NULL), why, whylen);
	if (p != MC_PLAN_SEAL) {
		mc_key_free(*key);
		*key = NULL;
	}
	return p;
}

int mc_seal_policy(const struct mc_key *k, const struct mc_opts *o, int in_fd, uint64_t size,
		   int out_fd, uint64_t out_start, struct mc_counts *c, char *why, size_t whylen)
{
	int r = mc_seal(k, o, in_fd, size, out_fd, c, why, whylen);
	if (r != MC_ERR_CRYPTO || !o->clear_on_failure)
		return r;
	if (ftruncate(out_fd, (off_t)out_start) < 0 ||
	    lseek(out_fd, (off_t)out_start, SEEK_SET) != (off_t)out_start)
		return MC_ERR_IO;
	return MC_FELL_BACK;
}
