/* workq.c — worker threads with completion on the event loop via a pipe. */
#include "common/workq.h"
#include "common/util.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct job {
	workq_fn work, done;
	void *arg;
	struct job *next;
};

struct workq {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *head, *tail;	/* waiting for a thread */
	struct job *fin_head, *fin_tail;	/* finished, waiting for the loop */
	int pipe[2];
	struct event *ev;
	unsigned pending;
	int nthreads;		/* started with the first job */
};

static void push(struct job **h, struct job **t, struct job *j)
{
	j->next = NULL;
	if (*t)
		(*t)->next = j;
	else
		*h = j;
	*t = j;
}

static void *worker(void *p)
{
	struct workq *q = p;
	for (;;) {
		pthread_mutex_lock(&q->mu);
		while (!q->head)
			pthread_cond_wait(&q->cv, &q->mu);
		struct job *j = q->head;
		q->head = j->next;
		if (!q->head)
			q->tail = NULL;
		pthread_mutex_unlock(&q->mu);

		j->work(j->arg);

		pthread_mutex_lock(&q->mu);
		bool wake = q->fin_head == NULL;
		push(&q->fin_head, &q->fin_tail, j);
		pthread_mutex_unlock(&q->mu);
		if (wake) {
			char c = 1;
			while (write(q->pipe[1], &c, 1) < 0 && errno == EINTR)
				;
		}
	}
	return NULL;
}

static void on_wake(evutil_socket_t fd, short what, void *p)
{
	struct workq *q = p;
	char buf[256];
	while (read(fd, buf, sizeof buf) > 0)
		;
	pthread_mutex_lock(&q->mu);
	struct job *j = q->fin_head;
	q->fin_head = q->fin_tail = NULL;
	pthread_mutex_unlock(&q->mu);
	while (j) {
		struct job *next = j->next;
		q->pending--;
		j->done(j->arg);
		free(j);
		j = next;
	}
}

struct workq *workq_new(struct event_base *base, int nthreads)
{
	struct workq *q = xcalloc(1, sizeof *q);
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	if (pipe2(q->pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		fatal_errno("pipe");
	q->ev = event_new(base, q->pipe[0], EV_READ | EV_PERSIST, on_wake, q);
	event_add(q->ev, NULL);
	q->nthreads = nthreads < 1 ? 1 : nthreads;
	return q;
}

/* The threads start with the first job, after the daemon has entered its
 * sandbox: Landlock confines only the thread that asks and those it starts
 * later (common/landlock.h). */
static void start_threads(struct workq *q)
{
	for (; q->nthreads > 0; q->nthreads--) {
		pthread_t t;
		if (pthread_create(&t, NULL, worker, q) != 0)
			fatal("cannot start worker thread");
		pthread_detach(t);
	}
}

void workq_submit(struct workq *q, workq_fn work, workq_fn done, void *arg)
{
	if (q->nthreads)
		start_threads(q);
	struct job *j = xmalloc(sizeof *j);
	j->work = work;
	j->done = done;
	j->arg = arg;
	q->pending++;
	pthread_mutex_lock(&q->mu);
	push(&q->head, &q->tail, j);
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

unsigned workq_pending(const struct workq *q)
{
	return q->pending;
}
