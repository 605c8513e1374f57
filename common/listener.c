/* listener.c — see listener.h. */
#include "listener.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

#define PAUSE_FIRST_MS 100
#define PAUSE_MAX_MS 1000

struct listener {
	struct evconnlistener *ev;
	struct event *timer;	/* ends a pause, then confirms the burst is over */
	listener_cb cb;
	void *arg;
	char *name;
	bool owned;		/* ev is ours to free (not evhttp's) */
	bool wanted;		/* the owner wants connections */
	bool paused;		/* out of descriptors: waiting for the timer */
	bool burst;		/* accept failed since the last quiet period */
	unsigned pause_ms;
	unsigned failures;	/* accept failures in this burst */
	struct listener *next;
};

/* libevent hands the error callback the listener's user data, which for
 * evhttp's listeners is evhttp's own: the listener is found by its ev. */
static struct listener *all;

bool listener_error_is_transient(int err)
{
	switch (err) {
	case EAGAIN:
	case EINTR:
	case ECONNABORTED:
	case EPROTO:
	case EPERM:
	/* accept(2): Linux passes the new socket's pending network error on */
	case ENETDOWN:
	case ENOPROTOOPT:
	case EHOSTDOWN:
	case ENONET:
	case EHOSTUNREACH:
	case EOPNOTSUPP:
	case ENETUNREACH:
	case ETIMEDOUT:
	case ECONNRESET:
		return true;
	default:
		return false;
	}
}

static void apply(struct listener *l)
{
	if (l->wanted && !l->paused)
		evconnlistener_enable(l->ev);
	else
		evconnlistener_disable(l->ev);
}

static void arm(struct listener *l, unsigned ms)
{
	struct timeval tv = { ms / 1000, (suseconds_t)(ms % 1000) * 1000 };
	evtimer_add(l->timer, &tv);
}

/* A paused listener tries again; one that has tried and was not refused for a
 * whole pause is out of the burst. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;
	if (l->paused) {
		l->paused = false;
		apply(l);
		arm(l, l->pause_ms);
		return;
	}
	if (l->burst)
		log_info("%s: accepting again (%u attempt(s) refused while out of resources)", l->name,
			 l->failures);
	l->burst = false;
	l->failures = 0;
	l->pause_ms = PAUSE_FIRST_MS;
}

static void on_error(struct evconnlistener *ev, void *arg)
{
	int err = errno;
	struct listener *l = all;
	while (l && l->ev != ev)
		l = l->next;
	if (!l || listener_error_is_transient(err))
		return;
	if (!l->burst)
		log_warn("%s: accept: %s; pausing until descriptors free up", l->name, strerror(err));
	else if (l->pause_ms * 2 <= PAUSE_MAX_MS)
		l->pause_ms *= 2;
	else
		l->pause_ms = PAUSE_MAX_MS;
	l->burst = true;
	l->failures++;
	l->paused = true;
	apply(l);
	arm(l, l->pause_ms);
}

static void on_accept(struct evconnlistener *ev, evutil_socket_t fd, struct sockaddr *sa, int salen,
		      void *arg)
{
	struct listener *l = arg;
	l->cb(fd, sa, salen, l->arg);
}

struct listener *listener_adopt(struct evconnlistener *ev, const char *name)
{
	struct listener *l = xcalloc(1, sizeof *l);
	l->ev = ev;
	l->name = xstrdup(name);
	l->wanted = true;
	l->pause_ms = PAUSE_FIRST_MS;
	l->timer = evtimer_new(evconnlistener_get_base(ev), on_timer, l);
	if (!l->timer)
		fatal("%s: cannot make a timer", name);
	evconnlistener_set_error_cb(ev, on_error);
	l->next = all;
	all = l;
	return l;
}

struct listener *listener_new(struct event_base *base, int fd, const char *name, listener_cb cb,
			      void *arg)
{
	unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC;
	/* libevent accepts until EAGAIN: a blocking socket would stop the loop */
	evutil_make_socket_nonblocking(fd);
	struct evconnlistener *ev = evconnlistener_new(base, on_accept, NULL, flags, 0, fd);
	if (!ev)
		fatal("%s: cannot listen on fd %d", name, fd);
	struct listener *l = listener_adopt(ev, name);
	l->cb = cb;
	l->arg = arg;
	l->owned = true;
	evconnlistener_set_cb(ev, on_accept, l);
	return l;
}

void listener_set_accepting(struct listener *l, bool on)
{
	l->wanted = on;
	apply(l);
}

void listener_free(struct listener *l)
{
	if (!l)
		return;
	for (struct listener **p = &all; *p; p = &(*p)->next)
		if (*p == l) {
			*p = l->next;
			break;
		}
	if (l->owned)
		evconnlistener_free(l->ev);
	event_free(l->timer);
	free(l->name);
	free(l);
}
