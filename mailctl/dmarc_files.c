/* dmarc_files.c — the record files of SPOOL/dmarc for a report run: rotate
 * the log queued appends to (common/dmarc_record.h explains the lock), read
 * every rotated file into the aggregation, remove them once the reports are
 * queued. A rotated file left by an interrupted run is read by the next one. */
#include "mailctl/dmarc_files.h"
#include "common/log.h"
#include "common/privdrop.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define ROTATED_PREFIX DMARC_LOG_NAME "."
#define MAX_FILES 1000

int dmarc_files_lock(const char *dir)
{
	char *p = xasprintf("%s/report.lock", dir);
	/* Read-only is enough for flock; readable by the queue's account, which
	 * the master's scheduled runs use, whoever made it. */
	int fd = open(p, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	free(p);
	if (fd < 0)
		return -1;
	uid_t uid;
	gid_t gid;
	if (running_as_root() && account_ids(ACCT_QUEUED, &uid, &gid) == 0 && fchown(fd, uid, gid) < 0)
		log_warn("chown report.lock: %s", strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		errno = EWOULDBLOCK;
		return -1;
	}
	return fd;
}

int dmarc_files_rotate(const char *dir)
{
	char *path = xasprintf("%s/%s", dir, DMARC_LOG_NAME);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		free(path);
		return errno == ENOENT ? 0 : -1;
	}
	/* Under queued's lock: no append is half done, and every later one
	 * finds the path gone and opens a new file. */
	int r = flock(fd, LOCK_EX);
	char *to = xasprintf("%s/%s%lld.%d", dir, ROTATED_PREFIX, (long long)time(NULL), (int)getpid());
	if (r == 0)
		r = rename(path, to);
	int err = errno;
	if (r == 0 && fsync_dir(dir) < 0)
		log_warn("fsync %s: %s", dir, strerror(errno));
	close(fd);
	free(to);
	free(path);
	errno = err;
	return r;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t dmarc_files_list(const char *dir, bool with_current, char ***out)
{
	DIR *d = opendir(dir);
	char **v = NULL;
	size_t n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)) && n < MAX_FILES) {
		bool rotated = !strncmp(e->d_name, ROTATED_PREFIX, strlen(ROTATED_PREFIX));
		if (rotated || (with_current && !strcmp(e->d_name, DMARC_LOG_NAME))) {
			v = xrealloc(v, (n + 1) * sizeof *v);
			v[n++] = xasprintf("%s/%s", dir, e->d_name);
		}
	}
	if (d)
		closedir(d);
	if (n)
		qsort(v, n, sizeof *v, by_name);
	*out = v;
	return n;
}

int report_files_each(const char *path, size_t maxline, bool (*fn)(const char *line, void *arg),
		      void *arg, uint64_t *good, uint64_t *bad)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) > 0) {
		if ((size_t)n <= maxline && line[n - 1] == '\n' && fn(line, arg))
			(*good)++;
		else
			(*bad)++;	/* a torn last line after a crash, or damage */
	}
	free(line);
	fclose(f);
	return 0;
}
