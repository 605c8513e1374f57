/* reclog.c — the report records queued keeps, one line each (common/recline.h):
 * SPOOL/dmarc/records, the DMARC evaluations smtpd sends (QUEUE_DMARC_RECORD,
 * for `mailctl dmarc report`), and SPOOL/tlsrpt/records, the outbound TLS
 * session outcomes the remote agent sends (QUEUE_TLSRPT_RECORD, for `mailctl
 * tlsrpt report`). Appends take the file's flock and reopen the path when the
 * report run has rotated the file away; the data is fdatasync'd once per turn
 * of the event loop, so a burst of records costs one sync, on a worker thread
 * (nobody waits for it: the loop goes on with enqueues meanwhile), one sync in
 * flight per log. Beyond the log's size limit new records are dropped (logged
 * once until the log is rotated). */
#include "queued/queued.h"
#include "common/dmarc_record.h"
#include "common/tlsrpt_record.h"
#include "common/log.h"
#include "common/util.h"
#include "common/workq.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

struct reclog {
	const char *what;	/* "DMARC records" */
	const char *max_key;	/* its size setting, for the log line */
	const char *command;	/* the report run that takes the records */
	int fd;
	ino_t ino;
	dev_t dev;
	char *path, *dir;
	uint64_t max_bytes;
	bool full_logged, dirty, dir_dirty;
	bool syncing, again;	/* a sync on a worker thread; another one owed after it */
	struct event *sync_ev;
	unsigned dropped;
};

struct reclog *dmarc_log, *tlsrpt_log;

/* One sync, on a worker thread: its own descriptor of the file (the loop may
 * reopen the log after a rotation meanwhile). */
struct reclog_sync {
	struct reclog *l;
	int fd;
	bool dir;
	int file_err, dir_err;
};

static void sync_work(void *arg)
{
	struct reclog_sync *y = arg;
	y->file_err = y->fd >= 0 && fdatasync(y->fd) < 0 ? errno : 0;
	y->dir_err = y->dir && fsync_dir(y->l->dir) < 0 ? errno : 0;
}

static void on_sync(evutil_socket_t s, short what, void *arg);

static void sync_done(void *arg)
{
	struct reclog_sync *y = arg;
	struct reclog *l = y->l;
	if (y->file_err)
		log_err("%s: fdatasync %s: %s", l->what, l->path, strerror(y->file_err));
	if (y->dir_err)
		log_err("%s: fsync %s: %s", l->what, l->dir, strerror(y->dir_err));
	if (y->fd >= 0)
		close(y->fd);
	free(y);
	l->syncing = false;
	if (l->again) {
		l->again = false;
		on_sync(-1, 0, l);
	}
}

static void on_sync(evutil_socket_t s, short what, void *arg)
{
	struct reclog *l = arg;
	if (!l->dirty && !l->dir_dirty)
		return;
	if (l->syncing) {
		l->again = true;
		return;
	}
	struct reclog_sync *y = xcalloc(1, sizeof *y);
	y->l = l;
	y->fd = l->dirty && l->fd >= 0 ? fcntl(l->fd, F_DUPFD_CLOEXEC, 0) : -1;
	if (l->dirty && l->fd >= 0 && y->fd < 0)
		log_err("%s: dup for fdatasync: %s", l->what, strerror(errno));
	y->dir = l->dir_dirty;
	l->dirty = l->dir_dirty = false;
	l->syncing = true;
	workq_submit(qwork, sync_work, sync_done, y);
}

static struct reclog *reclog_new(const char *what, const char *subdir, const char *name,
				 const char *max_key, const char *command, uint64_t max)
{
	struct reclog *l = xcalloc(1, sizeof *l);
	*l = (struct reclog){ .what = what, .max_key = max_key, .command = command, .fd = -1,
			      .max_bytes = max };
	l->dir = xasprintf("%s/%s", spool_dir, subdir);
	l->path = xasprintf("%s/%s", l->dir, name);
	l->sync_ev = event_new(qbase, -1, 0, on_sync, l);
	return l;
}

void reclog_init(uint64_t dmarc_max, uint64_t tlsrpt_max)
{
	dmarc_log = reclog_new("DMARC records", DMARC_LOG_DIR, DMARC_LOG_NAME, "dmarc_log_max",
			       "mailctl dmarc report", dmarc_max);
	tlsrpt_log = reclog_new("TLS-RPT records", TLSRPT_LOG_DIR, TLSRPT_LOG_NAME,
				"tlsrpt_log_max", "mailctl tlsrpt report", tlsrpt_max);
}

void reclog_set_max(struct reclog *l, uint64_t max)
{
	l->max_bytes = max;
	l->full_logged = false;
}

static int open_log(struct reclog *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	struct stat st;
	if (l->fd < 0 || fstat(l->fd, &st) < 0) {
		log_err("%s: cannot open %s: %s", l->what, l->path, strerror(errno));
		if (l->fd >= 0)
			close(l->fd);
		l->fd = -1;
		return -1;
	}
	if (st.st_size == 0)
		l->dir_dirty = true;	/* probably new: make its name durable */
	l->ino = st.st_ino;
	l->dev = st.st_dev;
	return 0;
}

/* Lock the file the path names now (reopening after a rotation). */
static int lock_current(struct reclog *l)
{
	for (int tries = 0; tries < 4; tries++) {
		if (l->fd < 0 && open_log(l) < 0)
			return -1;
		if (flock(l->fd, LOCK_EX) < 0) {
			log_err("%s: flock %s: %s", l->what, l->path, strerror(errno));
			return -1;
		}
		struct stat st;
		if (stat(l->path, &st) == 0 && st.st_ino == l->ino && st.st_dev == l->dev)
			return 0;
		flock(l->fd, LOCK_UN);
		close(l->fd);
		l->fd = -1;
	}
	return -1;
}

static void drop(struct reclog *l, const char *why)
{
	l->dropped++;
	if (!l->full_logged)
		log_warn("%s: %s; dropping records (%u so far) until `%s` takes the log", l->what,
			 why, l->dropped, l->command);
	l->full_logged = true;
}

void reclog_append(struct reclog *l, char *line)
{
	if (!l->max_bytes) {
		free(line);
		return;		/* recording disabled */
	}
	size_t len = strlen(line);
	if (lock_current(l) < 0) {
		drop(l, "cannot open the log");
		free(line);
		return;
	}
	struct stat st;
	char why[80];
	if (fstat(l->fd, &st) < 0 || (uint64_t)st.st_size + len > l->max_bytes) {
		snprintf(why, sizeof why, "the log reached %s", l->max_key);
		drop(l, why);
	} else if (write_all(l->fd, line, len) < 0) {
		drop(l, strerror(errno));
		/* a partial line would spoil the next one: cut it off */
		if (ftruncate(l->fd, st.st_size) < 0)
			log_err("%s: ftruncate %s: %s", l->what, l->path, strerror(errno));
	} else {
		if (l->full_logged)
			log_info("%s: recording again (%u dropped)", l->what, l->dropped);
		l->full_logged = false;
		l->dropped = 0;
		l->dirty = true;
		event_active(l->sync_ev, 0, 0);
	}
	flock(l->fd, LOCK_UN);
	free(line);
}
