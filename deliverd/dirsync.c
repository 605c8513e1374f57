/* dirsync.c — group commit of the new/ fsyncs of concurrent deliveries.
 *
 * A delivery is reported only once its link into new/ is durable: an fsync
 * of new/ that began after the link covers it. So one thread at a time
 * syncs a directory, for every link made into it before its fsync began;
 * threads that linked meanwhile wait for the next fsync (one of them makes
 * it) instead of each making their own. Every delivery still waits for an
 * fsync of its directory; fewer fsyncs run when deliveries to one Maildir
 * overlap. A failed fsync covers no one: each waiter then tries itself. */
#include "deliverd/dirsync.h"
#include "common/util.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct dsync {
	char *path;
	uint64_t linked;	/* links noted so far (tickets) */
	uint64_t synced;	/* every ticket up to this one is durable */
	bool running;		/* a thread is in fsync(path) */
	unsigned users;		/* threads inside dirsync_after_link for path */
	struct dsync *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct dsync *dirs;	/* only directories someone is waiting on */

static struct dsync *take(const char *path)
{
	for (struct dsync *d = dirs; d; d = d->next) {
		if (!strcmp(d->path, path)) {
			d->users++;
			return d;
		}
	}
	struct dsync *d = xcalloc(1, sizeof *d);
	d->path = xstrdup(path);
	d->users = 1;
	d->next = dirs;
	dirs = d;
	return d;
}

static void release(struct dsync *d)
{
	if (--d->users)
		return;
	struct dsync **p = &dirs;
	while (*p != d)
		p = &(*p)->next;
	*p = d->next;
	free(d->path);
	free(d);
}

int dirsync_after_link(const char *dir)
{
	pthread_mutex_lock(&mu);
	struct dsync *d = take(dir);
	uint64_t ticket = ++d->linked;
	int err = 0;
	while (d->synced < ticket) {
		if (d->running) {
			pthread_cond_wait(&cv, &mu);
			continue;
		}
		d->running = true;
		uint64_t upto = d->linked;	/* links that returned before this fsync */
		pthread_mutex_unlock(&mu);
		err = fsync_dir(dir) < 0 ? errno : 0;
		pthread_mutex_lock(&mu);
		d->running = false;
		if (!err && upto > d->synced)
			d->synced = upto;
		pthread_cond_broadcast(&cv);
		if (err)
			break;
	}
	release(d);
	pthread_mutex_unlock(&mu);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}
