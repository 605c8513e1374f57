/* maildrop.c — the Maildir as a POP3 maildrop. */
#include "pop3d/maildrop.h"
#include "pop3d/msgout.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

size_t maildir_baselen(const char *name)
{
	const char *c = strchr(name, ':');
	return c ? (size_t)(c - name) : strlen(name);
}

bool maildir_field(const char *name, size_t baselen, char key, uint64_t *out)
{
	for (size_t i = 0; i + 3 < baselen; i++) {
		if (name[i] != ',' || name[i + 1] != key || name[i + 2] != '=')
			continue;
		uint64_t v = 0;
		size_t j = i + 3;
		for (; j < baselen && name[j] >= '0' && name[j] <= '9' && v < (UINT64_MAX - 9) / 10; j++)
			v = v * 10 + (uint64_t)(name[j] - '0');
		if (j > i + 3 && (j == baselen || name[j] == ',')) {
			*out = v;
			return true;
		}
	}
	return false;
}

void maildir_uidl(const char *base, size_t len, char out[UIDL_MAX + 1])
{
	bool ok = len >= 1 && len <= UIDL_MAX;
	for (size_t i = 0; ok && i < len; i++)
		ok = base[i] >= 0x21 && base[i] <= 0x7e;
	if (ok) {
		memcpy(out, base, len);
		out[len] = '\0';
		return;
	}
	/* Not usable as is: a digest of it is just as stable. */
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_Digest(base, len, md, &mdlen, EVP_sha256(), NULL);
	out[0] = 'H';
	for (unsigned i = 0; i < 24; i++)
		snprintf(out + 1 + 2 * i, 3, "%02x", md[i]);
}

int maildrop_open(struct maildrop *md, const char *path)
{
	memset(md, 0, sizeof *md);
	md->dirfd = md->curfd = md->lockfd = -1;
	static const char *sub[] = { "cur", "new", "tmp" };
	md->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (md->dirfd < 0 && errno == ENOENT) {
		/* The user exists (authd said so) but nothing was delivered yet. */
		if (mkdir_p(path, 0700) < 0)
			return -1;
		md->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (md->dirfd < 0)
		return -1;
	for (size_t i = 0; i < ARRAY_LEN(sub); i++)
		if (mkdirat(md->dirfd, sub[i], 0700) < 0 && errno != EEXIST)
			return -1;
	md->curfd = openat(md->dirfd, "cur", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return md->curfd < 0 ? -1 : 0;
}

enum md_lock maildrop_lock(struct maildrop *md, unsigned login_delay)
{
	bool fresh = true;
	md->lockfd = openat(md->dirfd, MAILDROP_LOCK, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (md->lockfd < 0 && errno == EEXIST) {
		fresh = false;
		md->lockfd = openat(md->dirfd, MAILDROP_LOCK, O_RDWR | O_CLOEXEC);
	}
	if (md->lockfd < 0)
		return MD_ERROR;
	if (flock(md->lockfd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? MD_INUSE : MD_ERROR;
	/* The lock file's mtime is the time of the last login (LOGIN-DELAY). */
	struct stat st;
	if (!fresh && login_delay && fstat(md->lockfd, &st) == 0 &&
	    time(NULL) - st.st_mtime < (time_t)login_delay)
		return MD_DELAY;
	futimens(md->lockfd, NULL);
	return MD_LOCKED;
}

static void move_new(struct maildrop *md)
{
	int nfd = openat(md->dirfd, "new", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = nfd >= 0 ? fdopendir(nfd) : NULL;
	if (!d) {
		if (nfd >= 0)
			close(nfd);
		return;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char *to = xasprintf("%s%s", e->d_name, strchr(e->d_name, ':') ? "" : ":2,");
		/* ENOENT: another client moved it first; the cur/ listing finds it. */
		(void)renameat(nfd, e->d_name, md->curfd, to);
		free(to);
	}
	closedir(d);
}

static uint64_t count_size(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	struct msgsize s = { 0 };
	char buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		msgsize_feed(&s, buf, (size_t)n);
	close(fd);
	return msgsize_end(&s);
}

static int cmp_msg(const void *a, const void *b)
{
	const struct msg *x = a, *y = b;
	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return strcmp(x->name, y->name);
}

static bool add_entry(struct maildrop *md, const char *name, size_t *cap)
{
	struct stat st;
	if (fstatat(md->curfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return false;
	if (md->n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		md->msgs = xrealloc(md->msgs, *cap * sizeof *md->msgs);
	}
	struct msg *m = &md->msgs[md->n++];
	memset(m, 0, sizeof *m);
	m->name = xstrdup(name);
	m->baselen = maildir_baselen(name);
	m->mtime = st.st_mtim;
	uint64_t s, w;
	if (maildir_field(name, m->baselen, 'W', &w) && maildir_field(name, m->baselen, 'S', &s) &&
	    s == (uint64_t)st.st_size)
		m->size = w;
	else
		m->size = UINT64_MAX;	/* counted once the list is cut to max */
	return true;
}

int maildrop_scan(struct maildrop *md, size_t max)
{
	move_new(md);
	int fd = openat(md->dirfd, "cur", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	size_t cap = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			add_entry(md, e->d_name, &cap);
	closedir(d);
	if (md->n)
		qsort(md->msgs, md->n, sizeof *md->msgs, cmp_msg);
	for (size_t i = max; i < md->n; i++)
		free(md->msgs[i].name);
	if (md->n > max)
		md->n = max;
	for (size_t i = 0; i < md->n; i++) {
		struct msg *m = &md->msgs[i];
		if (m->size == UINT64_MAX)
			m->size = count_size(md->curfd, m->name);
		maildir_uidl(m->name, m->baselen, m->uidl);
		md->total += m->size;
	}
	return 0;
}

/* The message was renamed by another client: look for its unique name. */
static bool refind(struct maildrop *md, struct msg *m)
{
	int fd = openat(md->dirfd, "cur", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	bool found = false;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	struct dirent *e;
	while (!found && (e = readdir(d))) {
		if (maildir_baselen(e->d_name) == m->baselen && !strncmp(e->d_name, m->name, m->baselen)) {
			free(m->name);
			m->name = xstrdup(e->d_name);
			found = true;
		}
	}
	closedir(d);
	return found;
}

int maildrop_open_msg(struct maildrop *md, size_t i)
{
	struct msg *m = &md->msgs[i];
	int fd = openat(md->curfd, m->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT && refind(md, m))
		fd = openat(md->curfd, m->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	return fd;
}

size_t maildrop_update(struct maildrop *md, size_t *removed)
{
	size_t failed = 0;
	*removed = 0;
	for (size_t i = 0; i < md->n; i++) {
		struct msg *m = &md->msgs[i];
		if (!m->deleted)
			continue;
		int r = unlinkat(md->curfd, m->name, 0);
		if (r < 0 && errno == ENOENT && refind(md, m))
			r = unlinkat(md->curfd, m->name, 0);
		if (r == 0 || errno == ENOENT)
			(*removed)++;	/* gone either way */
		else
			failed++;
	}
	if (*removed)
		fsync(md->curfd);
	return failed;
}

void maildrop_unlock(struct maildrop *md)
{
	if (md->lockfd >= 0) {
		close(md->lockfd);	/* drops the flock */
		md->lockfd = -1;
	}
}

void maildrop_close(struct maildrop *md)
{
	for (size_t i = 0; i < md->n; i++)
		free(md->msgs[i].name);
	free(md->msgs);
	if (md->lockfd >= 0)
		close(md->lockfd);
	if (md->curfd >= 0)
		close(md->curfd);
	if (md->dirfd >= 0)
		close(md->dirfd);
	memset(md, 0, sizeof *md);
	md->dirfd = md->curfd = md->lockfd = -1;
}
