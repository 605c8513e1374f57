/* listener.c — see listener.h. */
#include "listener.h"

#include <errno.h>
#include <sys/socket.h>
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
	struct accept_gate gate;	/* the burst: pause length, failures, log lines */
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

/* An accept() failure: false if it ended only that connection; else the
 * burst goes on with a longer pause (the first failure logs). */
static bool gate_refused(struct accept_gate *g, int err)
{
	if (listener_error_is_transient(err))
		return false;
	if (!g->burst)
		log_warn("%s: accept: %s; pausing until descriptors free up", g->name, strerror(err));
	if (!g->pause_ms)
		g->pause_ms = PAUSE_FIRST_MS;
	else if (g->pause_ms * 2 <= PAUSE_MAX_MS)
		g->pause_ms *= 2;
	else
		g->pause_ms = PAUSE_MAX_MS;
	g->burst = true;
	g->failures++;
	return true;
}

/* Accepting works again: the end of a burst is logged once. */
static void gate_quiet(struct accept_gate *g)
{
	if (g->burst)
		log_info("%s: accepting again (%u attempt(s) refused while out of resources)", g->name,
			 g->failures);
	g->burst = false;
	g->failures = 0;
	g->pause_ms = 0;
	g->until = 0;
}

int accept_gate_accept(struct accept_gate *g, int lsock, int flags)
{
	int fd = accept4(lsock, NULL, NULL, flags);
	if (fd >= 0) {
		gate_quiet(g);
		return fd;
	}
	int err = errno;
	if (gate_refused(g, err))
		g->until = now_ms() + g->pause_ms;
	errno = err;
	return -1;
}

int accept_gate_wait_ms(struct accept_gate *g)
{
	uint64_t now = now_ms();
	if (!g->until || now >= g->until) {
		g->until = 0;
		return -1;
	}
	return (int)(g->until - now);
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
		arm(l, l->gate.pause_ms);
		return;
	}
	gate_quiet(&l->gate);
}

static void on_error(struct evconnlistener *ev, void *arg)
{
	int err = errno;
	struct listener *l = all;
	while (l && l->ev != ev)
		l = l->next;
	if (!l || !gate_refused(&l->gate, err))
		return;
	l->paused = true;
	apply(l);
	arm(l, l->gate.pause_ms);
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
	l->gate.name = l->name;
	l->wanted = true;
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
