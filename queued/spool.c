/* spool.c — spool directories and the durable steps of committing a file.
 *
 * SPOOL/incoming/ID  being written by a client (never acknowledged)
 * SPOOL/msg/ID       committed: message bytes followed by the envelope trailer
 * SPOOL/corrupt/ID   files recovery could not read (kept for the administrator)
 * SPOOL/db/          the Berkeley DB environment of the index
 * SPOOL/dmarc/       DMARC report records (reclog.c)
 * SPOOL/tlsrpt/      TLS-RPT report records (reclog.c) */
#include "queued/queued.h"
#include "common/dmarc_record.h"
#include "common/tlsrpt_record.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

char *spool_dir;

int spool_init(const char *dir)
{
	static const char *subs[] = { "incoming", "msg", "corrupt", "db", DMARC_LOG_DIR, TLSRPT_LOG_DIR };
	spool_dir = xstrdup(dir);
	for (size_t i = 0; i < ARRAY_LEN(subs); i++) {
		char *p = xasprintf("%s/%s", dir, subs[i]);
		int r = mkdir_p(p, 0700);
		free(p);
		if (r < 0)
			return -1;
	}
	return 0;
}

char *spool_path(const char *sub, const char *id)
{
	return xasprintf("%s/%s/%s", spool_dir, sub, id);
}

/* Queue ids: 8 hex digits of time (sortable by age) + 8 random ones. */
static void make_id(char id[QID_LEN + 1])
{
	uint32_t rnd;
	if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
		rnd = (uint32_t)now_ms() ^ (uint32_t)getpid();
	snprintf(id, QID_LEN + 1, "%08X%08X", (unsigned)time(NULL), (unsigned)rnd);
}

int spool_new_file(char id[QID_LEN + 1])
{
	for (int tries = 0; tries < 8; tries++) {
		make_id(id);
		char *p = spool_path("incoming", id);
		int fd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		free(p);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	errno = EEXIST;
	return -1;
}

bool spool_has_room(void)
{
	struct statvfs sv;
	if (statvfs(spool_dir, &sv) < 0)
		return true;
	return (uint64_t)sv.f_bavail * sv.f_frsize >= qconf.minfree;
}

static int append_trailer(int fd, struct qmsg *m)
{
	size_t tlen;
	unsigned char *t = qtrailer_make(m, &tlen);
	ssize_t n = pwrite(fd, t, tlen, (off_t)m->size);
	int e = n == (ssize_t)tlen ? 0 : n < 0 ? errno : ENOSPC;
	free(t);
	if (!e && ftruncate(fd, (off_t)(m->size + tlen)) < 0)
		e = errno;
	if (!e && fdatasync(fd) < 0)
		e = errno;
	return e;
}

int spool_commit_file(int fd, struct qmsg *m)
{
	/* Keep half the reserve for the index log: a commit that would eat into
	 * it is refused like a full disk (the client says 452). */
	struct statvfs sv;
	if (statvfs(spool_dir, &sv) == 0 && (uint64_t)sv.f_bavail * sv.f_frsize < qconf.minfree / 2)
		return ENOSPC;
	struct stat st;
	if (fstat(fd, &st) < 0)
		return errno;
	m->size = (uint64_t)st.st_size;
	int e = append_trailer(fd, m);
	if (e)
		return e;
	char *from = spool_path("incoming", m->id), *to = spool_path("msg", m->id);
	if (rename(from, to) < 0)
		e = errno;
	free(from);
	free(to);
	return e;
}

int spool_write_message(struct qmsg *m, const char *data, size_t len)
{
	int fd = spool_new_file(m->id);
	if (fd < 0)
		return errno;
	int e = write_all(fd, data, len) < 0 ? (errno ? errno : EIO) : 0;
	if (!e)
		e = spool_commit_file(fd, m);
	close(fd);
	if (e) {
		char *p = spool_path("incoming", m->id);
		unlink(p);
		free(p);
	}
	return e;
}
