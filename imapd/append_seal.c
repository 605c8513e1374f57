/* append_seal.c — APPEND's spool files when the user's messages are sealed
 * (append_seal.h): memfds by name until the message is complete, then
 * mc_seal into the folder's tmp/. A key that cannot be used follows
 * encrypt_failure as local delivery does: refused (defer), or stored in
 * clear with a warning (deliver_clear). */
#include "imapd/append_seal.h"
#include "common/config.h"
#include "common/log.h"
#include "common/mailcrypt.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static struct mc_opts opts;
static bool seal_appends;

struct spool {
	char *base;
	int fd;
};

struct append_seal {
	struct mc_key *key;	/* NULL: deliver_clear after a key failure */
	char *user;
	struct spool *f;
	size_t n;
};

static void log_clear(const struct append_seal *z, const char *why)
{
	log_warn("user=%s: APPEND stored in clear (encrypt_failure = deliver_clear): %s", z->user, why);
}

void append_seal_setup(const struct cfg *tern_conf)
{
	mc_opts_load(tern_conf, &opts);
	seal_appends = cfg_bool(tern_conf, "encrypt_append");
	if (seal_appends)
		mc_preload();
}

struct append_seal *append_seal_begin(const char *user, const char **why)
{
	char err[512] = "";
	struct mc_key *key = NULL;
	*why = NULL;
	if (!seal_appends)
		return NULL;
	enum mc_plan p = mc_plan_maildir(".", &opts, &key, err, sizeof err);
	if (p == MC_PLAN_CLEAR)
		return NULL;	/* no key: stored as it comes */
	if (p == MC_PLAN_REFUSE) {
		log_warn("user=%s: APPEND refused: cannot encrypt: %s", user, err);
		*why = "[UNAVAILABLE] Cannot encrypt: your encryption key cannot be used (expired?)";
		return NULL;
	}
	struct append_seal *z = xcalloc(1, sizeof *z);
	z->key = key;
	z->user = xstrdup(user);
	if (p == MC_PLAN_CLEAR_FALLBACK)
		log_clear(z, err);
	return z;
}

void append_seal_end(struct append_seal *z)
{
	if (!z)
		return;
	for (size_t i = 0; i < z->n; i++) {
		if (z->f[i].fd >= 0)
			close(z->f[i].fd);
		free(z->f[i].base);
	}
	free(z->f);
	free(z->user);
	mc_key_free(z->key);
	free(z);
}

static int tmp_file(const char *dir, const char *base)
{
	char *path = xasprintf("%s/tmp/%s", dir, base);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	free(path);
	return fd;
}

static struct spool *find(struct append_seal *z, const char *base)
{
	for (size_t i = 0; i < z->n; i++)
		if (!strcmp(z->f[i].base, base))
			return &z->f[i];
	return NULL;
}

int append_spool_create(struct append_seal *z, const char *dir, const char *base)
{
	if (!z)
		return tmp_file(dir, base);
	int fd = memfd_create("append", MFD_CLOEXEC);
	int wfd = fd >= 0 ? dup(fd) : -1;	/* the caller closes its end when done */
	if (wfd < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	z->f = xrealloc(z->f, (z->n + 1) * sizeof *z->f);
	z->f[z->n++] = (struct spool){ xstrdup(base), fd };
	return wfd;
}

int append_spool_open(struct append_seal *z, const char *dir, const char *base)
{
	if (!z) {
		char *path = xasprintf("%s/tmp/%s", dir, base);
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		free(path);
		return fd;
	}
	/* A dup shares the offset of the memfd: rewound for this reader (the
	 * writer is done, and sealing reads with pread). */
	struct spool *f = find(z, base);
	int fd = f ? dup(f->fd) : -1;
	if (fd >= 0 && lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Copy what fd holds into out as it is (already the Maildir form). */
static int copy_as_is(int fd, uint64_t size, int out)
{
	char buf[16384];
	for (uint64_t off = 0; off < size;) {
		ssize_t n = pread(fd, buf, sizeof buf, (off_t)off);
		if (n <= 0 || write_all(out, buf, (size_t)n) < 0)
			return -1;
		off += (uint64_t)n;
	}
	return 0;
}

int append_spool_seal(struct append_seal *z, const char *dir, const char *base)
{
	struct spool *f = z ? find(z, base) : NULL;
	if (!z)
		return 0;
	struct stat st;
	int out = f && fstat(f->fd, &st) == 0 ? tmp_file(dir, base) : -1;
	if (out < 0) {
		log_err("user=%s: cannot create a file in %s/tmp: %m", z->user, dir);
		return -1;
	}
	char why[512] = "";
	struct mc_counts c;
	int r = z->key ? mc_seal_policy(z->key, &opts, f->fd, (uint64_t)st.st_size, out, 0, &c, why,
					sizeof why) : MC_AS_IS;
	if (r == MC_FELL_BACK)
		log_clear(z, why);
	if (r == MC_AS_IS || r == MC_FELL_BACK)
		r = copy_as_is(f->fd, (uint64_t)st.st_size, out) == 0 ? MC_SEALED : MC_ERR_IO;
	if (close(out) < 0 && r == MC_SEALED)
		r = MC_ERR_IO;
	if (r != MC_SEALED) {
		log_err("user=%s: cannot store an encrypted APPEND in %s: %s", z->user, dir,
			*why ? why : strerror(errno));
		char *path = xasprintf("%s/tmp/%s", dir, base);
		unlink(path);
		free(path);
		return -1;
	}
	return 0;
}
