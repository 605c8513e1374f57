/* flush.c — group commit. Index writes commit without syncing the log; whoever
 * needs durability (an enqueue reply, removing a delivered file) registers here,
 * and once per turn of the event loop one fsync of msg/ and one log flush make
 * the whole batch durable before any of the callbacks run.
 *
 * Nobody waits for a finished message's removal, so it rides (flush_ride) on
 * the next flush someone waits for, an enqueue's most often; a timer makes
 * sure it is not kept longer than RIDE_MS when no enqueue comes. In a burst
 * that takes the delivered state's own log flush out of the loop. */
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

#define RIDE_MS 50

static struct waiter *head, **tail = &head;
static struct event *ev, *ride_timer;
static bool dir_dirty, scheduled;

static void run_flush(evutil_socket_t fd, short what, void *p)
{
	struct waiter *w = head;
	scheduled = false;
	head = NULL;
	tail = &head;
	evtimer_del(ride_timer);
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

static void schedule(void)
{
	if (!scheduled) {
		scheduled = true;
		event_active(ev, 0, 0);
	}
}

static void on_ride_timer(evutil_socket_t fd, short what, void *p)
{
	schedule();
}

void flush_init(void)
{
	ev = event_new(qbase, -1, 0, run_flush, NULL);
	ride_timer = evtimer_new(qbase, on_ride_timer, NULL);
}

static void add_waiter(void (*fn)(void *arg, int err), void *arg)
{
	struct waiter *w = xmalloc(sizeof *w);
	w->fn = fn;
	w->arg = arg;
	w->next = NULL;
	*tail = w;
	tail = &w->next;
}

void flush_later(void (*fn)(void *arg, int err), void *arg)
{
	add_waiter(fn, arg);
	schedule();
}

void flush_ride(void (*fn)(void *arg, int err), void *arg)
{
	add_waiter(fn, arg);
	if (!scheduled && !evtimer_pending(ride_timer, NULL)) {
		struct timeval tv = { 0, RIDE_MS * 1000 };
		evtimer_add(ride_timer, &tv);
	}
}

void flush_mark_dir(void)
{
	dir_dirty = true;
}
