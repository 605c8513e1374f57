/* workq.h — a small pool of threads for blocking disk work (write, fsync,
 * rename) driven from a libevent loop. work() runs on a worker thread and must
 * touch only its own argument; done() runs later on the loop's thread. The
 * event loop never waits for a disk flush, and many flushes run in parallel. */
#ifndef TERN_WORKQ_H
#define TERN_WORKQ_H

struct event_base;
struct workq;

typedef void (*workq_fn)(void *arg);

/* nthreads >= 1, started with the first job (after the sandbox is entered);
 * fatal if they cannot start. */
struct workq *workq_new(struct event_base *base, int nthreads);
/* Queue work(arg) on a thread, then done(arg) on the loop thread. */
void workq_submit(struct workq *q, workq_fn work, workq_fn done, void *arg);
/* Jobs submitted and not yet done. */
unsigned workq_pending(const struct workq *q);

#endif
