/* workahead.c — helper threads for ordered runs (see workahead.h). */
#include "common/workahead.h"
#include "common/log.h"
#include "common/util.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#define WA_MAX_HELPERS	3
/* parsing a message needs little stack; ASan's redzones need more than
 * plain builds, and only the pages touched become memory */
#define WA_STACK	(1024 * 1024)

static struct {
	pthread_mutex_t mu;
	pthread_cond_t work;	/* helpers: a run has an item to claim */
	pthread_cond_t ready;	/* caller: an item was prepared */
	unsigned helpers;
	/* the run under way (active), all under mu */
	bool active;
	size_t n, window, next, ndone;
	size_t *tag;		/* tag[i % window] == i + 1: item i is prepared */
	workahead_fn prep;
	void *ctx;
} wa = { .mu = PTHREAD_MUTEX_INITIALIZER, .work = PTHREAD_COND_INITIALIZER,
	 .ready = PTHREAD_COND_INITIALIZER };

/* mu held: an item the window allows, or (size_t)-1. */
static size_t claim(void)
{
	if (!wa.active || wa.next >= wa.n || wa.next >= wa.ndone + wa.window)
		return (size_t)-1;
	return wa.next++;
}

/* mu held on entry and on return. */
static void prepare(size_t i)
{
	workahead_fn prep = wa.prep;
	void *ctx = wa.ctx;
	size_t w = wa.window;
	pthread_mutex_unlock(&wa.mu);
	prep(i, ctx);
	pthread_mutex_lock(&wa.mu);
	wa.tag[i % w] = i + 1;
}

static void *helper(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&wa.mu);
	for (;;) {
		size_t i = claim();
		if (i == (size_t)-1) {
			pthread_cond_wait(&wa.work, &wa.mu);
			continue;
		}
		prepare(i);
		pthread_cond_signal(&wa.ready);
	}
	return NULL;
}

unsigned workahead_default(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	if (cpus <= 1)
		return 0;
	return cpus - 1 > WA_MAX_HELPERS ? WA_MAX_HELPERS : (unsigned)(cpus - 1);
}

unsigned workahead_start(unsigned n)
{
	if (n > WA_MAX_HELPERS)
		n = WA_MAX_HELPERS;
	pthread_attr_t attr;
	if (wa.helpers || !n || pthread_attr_init(&attr) != 0)
		return wa.helpers;
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, WA_STACK);
	/* the helpers take no signal: each new thread inherits this mask */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (unsigned k = 0; k < n; k++) {
		pthread_t t;
		int r = pthread_create(&t, &attr, helper, NULL);
		if (r != 0) {
			log_warn("workahead: helper thread %u of %u: %s", k + 1, n, strerror(r));
			break;
		}
		wa.helpers++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return wa.helpers;
}

void workahead_run(size_t n, size_t window, workahead_fn prep, workahead_fn done, void *ctx)
{
	if (!wa.helpers || n < 2 || window < 2) {
		for (size_t i = 0; i < n; i++) {
			prep(i, ctx);
			done(i, ctx);
		}
		return;
	}
	pthread_mutex_lock(&wa.mu);
	wa.tag = xcalloc(window, sizeof *wa.tag);
	wa.n = n;
	wa.window = window;
	wa.next = wa.ndone = 0;
	wa.prep = prep;
	wa.ctx = ctx;
	wa.active = true;
	pthread_cond_broadcast(&wa.work);
	while (wa.ndone < n) {
		size_t i = wa.ndone;
		if (wa.tag[i % window] == i + 1) {
			pthread_mutex_unlock(&wa.mu);
			done(i, ctx);
			pthread_mutex_lock(&wa.mu);
			wa.tag[i % window] = 0;
			wa.ndone++;
			/* the window moved: a helper waiting for room may go on */
			if (wa.next < n)
				pthread_cond_signal(&wa.work);
			continue;
		}
		size_t j = claim();
		if (j != (size_t)-1) {
			prepare(j);	/* the caller helps rather than waits */
			continue;
		}
		pthread_cond_wait(&wa.ready, &wa.mu);
	}
	/* every item was prepared and done: no helper is inside prep */
	wa.active = false;
	free(wa.tag);
	wa.tag = NULL;
	wa.prep = NULL;
	wa.ctx = NULL;
	pthread_mutex_unlock(&wa.mu);
}
