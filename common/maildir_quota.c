/* maildir_quota.c — Maildir++ usage and its maildirsize cache (maildir_quota.h). */
#include "common/maildir_quota.h"
#include "common/mailstore.h"
#include "common/util.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *const subdirs[] = { "new", "cur" };

static uint64_t file_size(int dfd, const char *name)
{
	const char *s = strstr(name, ",S=");
	if (s)
		return strtoull(s + 3, NULL, 10);	/* no stat per message */
	struct stat st;
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
		return (uint64_t)st.st_size;
	return 0;
}

static uint64_t folder_bytes(const char *dir)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < ARRAY_LEN(subdirs); i++) {
		char *p = xasprintf("%s/%s", dir, subdirs[i]);
		DIR *d = opendir(p);
		for (struct dirent *e; d && (e = readdir(d));)
			if (e->d_name[0] != '.')
				sum += file_size(dirfd(d), e->d_name);
		if (d)
			closedir(d);
		free(p);
	}
	return sum;
}

static bool is_folder(const char *name)
{
	return name[0] == '.' && strcmp(name, ".") && strcmp(name, "..") && ms_valid_name(name + 1);
}

/* Call fn for the mailbox and each folder directory; stop at non-zero. */
static int each_folder(const char *base, int (*fn)(const char *dir, void *arg), void *arg)
{
	int r = fn(base, arg);
	DIR *d = opendir(base);
	for (struct dirent *e; !r && d && (e = readdir(d));) {
		if (!is_folder(e->d_name))
			continue;
		char *p = xasprintf("%s/%s", base, e->d_name);
		struct stat st;
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
			r = fn(p, arg);
		free(p);
	}
	if (d)
		closedir(d);
	return r;
}

static int add_folder(const char *dir, void *arg)
{
	*(uint64_t *)arg += folder_bytes(dir);
	return 0;
}

uint64_t mdq_count(const char *base)
{
	uint64_t sum = 0;
	each_folder(base, add_folder, &sum);
	return sum;
}

static bool newer(const struct stat *st, const struct timespec *than)
{
	return st->st_mtim.tv_sec > than->tv_sec ||
	       (st->st_mtim.tv_sec == than->tv_sec && st->st_mtim.tv_nsec > than->tv_nsec);
}

/* 1 when dir, its new/ or its cur/ changed after *than. */
static int changed_after(const char *dir, void *arg)
{
	struct stat st;
	if (stat(dir, &st) == 0 && newer(&st, arg))
		return 1;
	for (size_t i = 0; i < ARRAY_LEN(subdirs); i++) {
		char *p = xasprintf("%s/%s", dir, subdirs[i]);
		bool c = stat(p, &st) == 0 && newer(&st, arg);
		free(p);
		if (c)
			return 1;
	}
	return 0;
}

static void write_cache(const char *base, uint64_t quota, uint64_t used)
{
	char *tmp = xasprintf("%s/tmp/maildirsize.%d.%lu", base, (int)getpid(),
			      (unsigned long)pthread_self());
	char *final = xasprintf("%s/maildirsize", base);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		char buf[128];
		int n = snprintf(buf, sizeof buf, "%lluS\n%llu 0\n", (unsigned long long)quota,
				 (unsigned long long)used);
		bool ok = write_all(fd, buf, (size_t)n) == 0;
		close(fd);
		if (!ok || rename(tmp, final) < 0)
			unlink(tmp);
	}
	free(tmp);
	free(final);
}

/* The sum of maildirsize's lines when its quota line is quota, else -1. */
static int64_t read_cache(int fd, uint64_t quota)
{
	char buf[MDQ_MAX_BYTES + 1];
	ssize_t n = read(fd, buf, MDQ_MAX_BYTES);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	char *nl = strchr(buf, '\n');
	if (!nl || strtoull(buf, NULL, 10) != quota)
		return -1;
	int64_t sum = 0;
	for (char *line = nl + 1; line && *line;) {
		sum += strtoll(line, NULL, 10);
		char *e = strchr(line, '\n');
		line = e ? e + 1 : NULL;
	}
	return sum > 0 ? sum : 0;
}

uint64_t mdq_usage(const char *base, uint64_t quota)
{
	char *p = xasprintf("%s/maildirsize", base);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	free(p);
	struct stat st;
	int64_t cached = -1;
	if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size <= MDQ_MAX_BYTES &&
	    time(NULL) - st.st_mtime < MDQ_MAX_AGE && !each_folder(base, changed_after, &st.st_ctim))
		cached = read_cache(fd, quota);
	if (fd >= 0)
		close(fd);
	if (cached >= 0)
		return (uint64_t)cached;
	uint64_t used = mdq_count(base);
	write_cache(base, quota, used);
	return used;
}

void mdq_add(const char *base, uint64_t bytes)
{
	char *p = xasprintf("%s/maildirsize", base);
	int fd = open(p, O_WRONLY | O_APPEND | O_CLOEXEC);
	free(p);
	if (fd < 0)
		return;
	char buf[64];
	int n = snprintf(buf, sizeof buf, "%llu 1\n", (unsigned long long)bytes);
	(void)write_all(fd, buf, (size_t)n);	/* one O_APPEND write: atomic */
	close(fd);
}
