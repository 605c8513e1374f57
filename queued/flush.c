/* flush.c — group commit. Index writes commit without syncing the log; whoever
 * needs durability (an enqueue reply, removing a delivered file) registers here,
 * and once per turn of the event loop one fsync of msg/ and one log flush make
 * the whole batch durable before any of the callbacks run. */
#include "queued/queued.h"
#include "queued/qindex.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>

struct waiter {
	void (*fn)(void *arg, int err);
	void *arg;
	struct waiter *next;
};

static struct waiter *head, **tail = &head;
static struct event *ev;
static bool dir_dirty, scheduled;

static void run_flush(evutil_socket_t fd, short what, void *p)
{
	struct waiter *w = head;
	scheduled = false;
	head = NULL;
	tail = &head;
	int err = 0;
	if (dir_dirty) {
		char *d = xasprintf("%s/msg", spool_dir);
		if (fsync_dir(d) < 0)
			err = errno;
		free(d);
		dir_dirty = false;
	}
	if (!err && qindex_flush() < 0)
		err = errno;
	if (err) {
		/* The log could not be written: the index state is unknown. Restarting
		 * runs recovery, which keeps every committed record and re-indexes
		 * files from their trailers; nothing unacknowledged is claimed. */
		fatal("queue index flush failed (%d); restarting for recovery", err);
	}
	unsigned n_done = 0;
	for (struct waiter *x = w; x; x = x->next)
		n_done++;
	log_debug("group commit: %u waiter(s) on one log flush", n_done);
	while (w) {
		struct waiter *n = w->next;
		w->fn(w->arg, err);
		free(w);
		w = n;
	}
}

void flush_init(void)
{
	ev = event_new(qbase, -1, 0, run_flush, NULL);
}

void flush_later(void (*fn)(void *arg, int err), void *arg)
{
	struct waiter *w = xmalloc(sizeof *w);
	w->fn = fn;
	w->arg = arg;
	w->next = NULL;
	*tail = w;
	tail = &w->next;
	if (!scheduled) {
		scheduled = true;
		event_active(ev, 0, 0);
	}
}

void flush_mark_dir(void)
{
	dir_dirty = true;
}
