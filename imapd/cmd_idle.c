/* cmd_idle.c — IDLE (RFC 2177): changes by other sessions and by deliverd
 * are reported as they happen, watched with inotify on the selected folder's
 * new/ and cur/ (through NOTIFY's inotify instance while NOTIFY is on: one
 * instance per session). Without an instance the two directories are
 * polled (dirpoll.h). IDLE ends with DONE, or after idle_max with a BYE. */
#include "imapd/commands.h"
#include "imapd/dirpoll.h"
#include "imapd/notify.h"
#include "common/linereader.h"
#include "common/log.h"
#include "common/mailindex.h"
#include "common/util.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void idle_stop(struct session *s)
{
	if (s->idle_ev) {
		event_free(s->idle_ev);
		s->idle_ev = NULL;
	}
	if (s->inotify_fd >= 0) {
		close(s->inotify_fd);
		s->inotify_fd = -1;
	}
	if (s->idle_timer) {
		event_free(s->idle_timer);
		s->idle_timer = NULL;
	}
	if (s->park_timer) {
		event_free(s->park_timer);
		s->park_timer = NULL;
	}
	s->idling = false;
	notify_idle(s, false);
	struct timeval tv = { (time_t)s->lim.idle_timeout, 0 };
	bufferevent_set_timeouts(s->bev, &tv, &tv);	/* a client that stops reading times out too */
}

static void on_change(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	while (read(fd, buf, sizeof buf) > 0)
		;	/* the events only say "look again" */
	if (s->sel)
		mi_close(view_sync(s, true));
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	if (s->sel && dirpoll_folder_changed(s->sel->dir, s->idle_seen))
		mi_close(view_sync(s, true));
}

static void poll_start(struct session *s)
{
	static bool said;
	if (!said)
		log_warn("user=%s: inotify: %m; IDLE polling new/ and cur/ every %d ms",
			 s->user, DIRPOLL_MS);
	said = true;
	if (s->inotify_fd >= 0) {
		close(s->inotify_fd);
		s->inotify_fd = -1;
	}
	dirpoll_folder_changed(s->sel->dir, s->idle_seen);	/* the folder was just synced: remember what it looked like */
	struct timeval tv = { 0, DIRPOLL_MS * 1000 };
	s->idle_ev = event_new(s->base, -1, EV_PERSIST, on_poll, s);
	event_add(s->idle_ev, &tv);
}

/* inotify on new/ and cur/; false (errno set) when the kernel has no
 * instance or watch left for this uid. */
static bool watch_start(struct session *s)
{
	s->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->inotify_fd < 0)
		return false;
	uint32_t mask = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE;
	for (int i = 0; i < 2; i++) {
		char *p = xasprintf("%s/%s", s->sel->dir, i ? "cur" : "new");
		int wd = inotify_add_watch(s->inotify_fd, p, mask);
		free(p);
		if (wd < 0)
			return false;
	}
	s->idle_ev = event_new(s->base, s->inotify_fd, EV_READ | EV_PERSIST, on_change, s);
	event_add(s->idle_ev, NULL);
	return true;
}

void idle_expire(struct session *s)
{
	s_out(s, "* BYE IDLE for too long");
	idle_stop(s);
	s->closing = true;
	bufferevent_disable(s->bev, EV_READ);
}

static void on_idle_timeout(evutil_socket_t fd, short what, void *arg)
{
	idle_expire(arg);
}

void idle_begin(struct session *s)
{
	s->idling = true;
	bufferevent_set_timeouts(s->bev, NULL, NULL);
	time_t left = s->idle_start + (time_t)s->lim.idle_max - time(NULL);
	struct timeval tv = { left > 0 ? left : 0, 0 };
	s->idle_timer = evtimer_new(s->base, on_idle_timeout, s);
	evtimer_add(s->idle_timer, &tv);
	idle_park_arm(s);
	if (!s->sel || notify_idle(s, true))
		return;	/* nothing to watch, or NOTIFY's inotify watches it */
	if (!watch_start(s))
		poll_start(s);
}

void cmd_idle(struct session *s, struct ip *ip, bool uid)
{
	if (!ip_eol(ip)) {
		s_bad(s, "Syntax: IDLE");
		return;
	}
	if (s->sel)
		mi_close(view_sync(s, true));
	free(s->idle_tag);
	s->idle_tag = xstrdup(s->tag);
	s_out(s, "+ idling");
	s->idle_start = time(NULL);
	idle_begin(s);
}

void idle_input(struct session *s)
{
	struct line l;
	enum line_status st = line_read(bufferevent_get_input(s->bev), 1024, &l);
	if (st == LINE_MORE)
		return;
	free(s->tag);
	s->tag = xstrdup(s->idle_tag);
	idle_stop(s);
	if (st == LINE_TOOLONG) {
		line_skip(bufferevent_get_input(s->bev));
		s_bad(s, "Expected DONE");
		return;
	}
	if (!strcasecmp(l.text, "DONE"))
		s_ok(s, "IDLE terminated");
	else
		s_bad(s, "Expected DONE");
	line_free(&l);
}
