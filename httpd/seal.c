/* seal.c — the messages JMAP stores (Email/set create) sealed to the user's
 * key when encryption at rest is on (see seal.h). */
#include "httpd/seal.h"
#include "common/config.h"
#include "common/log.h"
#include "common/mailcrypt.h"
#include "common/mailindex.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct mc_opts opts;
static bool seal_on;

void seal_setup(const struct cfg *tern_conf)
{
	mc_opts_load(tern_conf, &opts);
	seal_on = cfg_bool(tern_conf, "encrypt_append");
	if (seal_on)
		mc_preload();
}

/* Seal fd into dir/tmp/base (LF line ends, the stored form) under the
 * policy: MC_SEALED, or MC_AS_IS / MC_FELL_BACK (the file removed: store fd
 * as it came), or < 0 (logged, the file removed). */
static int seal_to_tmp(const struct mc_key *key, const char *user, int fd, const char *dir,
		       const char *base)
{
	struct stat st;
	char *path = xasprintf("%s/tmp/%s", dir, base);
	int out = fstat(fd, &st) == 0 ? open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
					     0600) : -1;
	char why[512] = "";
	struct mc_counts c;
	int r = out < 0 ? MC_ERR_IO : mc_seal_policy(key, &opts, fd, (uint64_t)st.st_size, out, 0, &c,
						    why, sizeof why);
	if (out >= 0 && close(out) < 0 && r == MC_SEALED)
		r = MC_ERR_IO;
	if (r == MC_FELL_BACK)
		log_warn("user=%s: JMAP message stored in clear (encrypt_failure = deliver_clear): %s",
			 user, why);
	else if (r < 0)
		log_err("user=%s: cannot store a sealed JMAP message in %s: %s", user, dir,
			*why ? why : strerror(errno));
	if (r != MC_SEALED)
		unlink(path);
	free(path);
	return r;
}

int seal_add(struct mi *mi, const char *dir, const char *user, int fd, uint32_t flags,
	     const char *keywords, int64_t idate, uint32_t *uid, const char **why)
{
	*why = NULL;
	char err[512] = "";
	struct mc_key *key = NULL;
	enum mc_plan p = seal_on ? mc_plan_maildir(".", &opts, &key, err, sizeof err) : MC_PLAN_CLEAR;
	if (p == MC_PLAN_REFUSE) {
		log_warn("user=%s: JMAP message refused: cannot encrypt: %s", user, err);
		*why = "Cannot encrypt: your encryption key cannot be used (expired?)";
		return -1;
	}
	if (p == MC_PLAN_CLEAR_FALLBACK)
		log_warn("user=%s: JMAP message stored in clear (encrypt_failure = deliver_clear): %s",
			 user, err);
	if (p != MC_PLAN_SEAL)
		return mi_add_fd(mi, fd, flags, keywords, idate, uid);
	char *base = mi_unique_name();
	int r = seal_to_tmp(key, user, fd, dir, base);
	mc_key_free(key);
	if (r == MC_SEALED)
		r = mi_add_tmp(mi, base, flags, keywords, idate, uid);
	else if (r >= 0)	/* encrypted already, or the site's clear fallback */
		r = lseek(fd, 0, SEEK_SET) == 0 ? mi_add_fd(mi, fd, flags, keywords, idate, uid) : -1;
	free(base);
	return r < 0 ? -1 : 0;
}
