/* dmarclog.c — SPOOL/dmarc/records, the DMARC report records smtpd sends
 * (QUEUE_DMARC_RECORD), one line each (common/dmarc_record.h). Appends take
 * the file's flock and reopen the path when `mailctl dmarc report` has
 * rotated the file away; the data is fdatasync'd once per turn of the event
 * loop, so a burst of records costs one sync. Beyond dmarc_log_max bytes new
 * records are dropped (logged once until the log is rotated). */
#include "queued/queued.h"
#include "common/dmarc_record.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int fd = -1;
static ino_t ino;
static dev_t dev;
static char *path, *dir;
static uint64_t max_bytes;
static bool full_logged, dirty, dir_dirty;
static struct event *sync_ev;
static unsigned dropped;

static void on_sync(evutil_socket_t s, short what, void *arg)
{
	if (dirty && fd >= 0 && fdatasync(fd) < 0)
		log_err("DMARC records: fdatasync %s: %s", path, strerror(errno));
	if (dir_dirty && fsync_dir(dir) < 0)
		log_err("DMARC records: fsync %s: %s", dir, strerror(errno));
	dirty = dir_dirty = false;
}

void dmarclog_init(uint64_t max)
{
	dir = xasprintf("%s/%s", spool_dir, DMARC_LOG_DIR);
	path = xasprintf("%s/%s", dir, DMARC_LOG_NAME);
	max_bytes = max;
	sync_ev = event_new(qbase, -1, 0, on_sync, NULL);
}

void dmarclog_set_max(uint64_t max)
{
	max_bytes = max;
	full_logged = false;
}

static int open_log(void)
{
	if (fd >= 0)
		close(fd);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		log_err("DMARC records: cannot open %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
		return -1;
	}
	if (st.st_size == 0)
		dir_dirty = true;	/* probably new: make its name durable */
	ino = st.st_ino;
	dev = st.st_dev;
	return 0;
}

/* Lock the file the path names now (reopening after a rotation). */
static int lock_current(void)
{
	for (int tries = 0; tries < 4; tries++) {
		if (fd < 0 && open_log() < 0)
			return -1;
		if (flock(fd, LOCK_EX) < 0) {
			log_err("DMARC records: flock %s: %s", path, strerror(errno));
			return -1;
		}
		struct stat st;
		if (stat(path, &st) == 0 && st.st_ino == ino && st.st_dev == dev)
			return 0;
		flock(fd, LOCK_UN);
		close(fd);
		fd = -1;
	}
	return -1;
}

static void drop(const char *why)
{
	dropped++;
	if (!full_logged)
		log_warn("DMARC records: %s; dropping records (%u so far) until `mailctl dmarc "
			 "report` takes the log", why, dropped);
	full_logged = true;
}

void dmarclog_append(const struct dmarc_record *r)
{
	if (!max_bytes)
		return;		/* recording disabled */
	char *line = dmarc_record_format(r);
	if (!line) {
		log_warn("DMARC records: record for %s too long or invalid; not kept", r->policy_domain);
		return;
	}
	size_t len = strlen(line);
	if (lock_current() < 0) {
		drop("cannot open the log");
		free(line);
		return;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size + len > max_bytes) {
		drop("the log reached dmarc_log_max");
	} else if (write_all(fd, line, len) < 0) {
		drop(strerror(errno));
		/* a partial line would spoil the next one: cut it off */
		if (ftruncate(fd, st.st_size) < 0)
			log_err("DMARC records: ftruncate %s: %s", path, strerror(errno));
	} else {
		if (full_logged)
			log_info("DMARC records: recording again (%u dropped)", dropped);
		full_logged = false;
		dropped = 0;
		dirty = true;
		event_active(sync_ev, 0, 0);
	}
	flock(fd, LOCK_UN);
	free(line);
}
