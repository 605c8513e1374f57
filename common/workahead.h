/* workahead.h — helper threads that prepare the next items of a long ordered
 * run while the calling thread commits the earlier ones in order (a cold
 * index build: helpers open, read and parse message files; the caller alone
 * writes the index). The helpers are started before the process confines
 * itself (a confined session may not create threads: RLIMIT_NPROC is 0) and
 * then sleep until a run needs them. Without helpers, workahead_run does
 * every item itself, one after the other. */
#ifndef TERN_WORKAHEAD_H
#define TERN_WORKAHEAD_H

#include <stddef.h>

/* Start up to n helper threads (0: none), once per process; signals stay
 * with the calling thread. Returns how many run (fewer if creating one
 * failed: the runs are then done with fewer helpers or none). */
unsigned workahead_start(unsigned n);
/* Helper threads that fit this machine: online CPUs - 1, at most 3. */
unsigned workahead_default(void);

/* prep(i, ctx) for i in [0, n) on any thread (the helpers and the caller),
 * never more than window items ahead of the last done; done(i, ctx) on the
 * calling thread, in order of i, each after its prep returned. prep must
 * touch only what belongs to item i (e.g. slot i % window of the caller's
 * array) and what no done changes; done may use everything. One run at a
 * time, from one thread. */
typedef void (*workahead_fn)(size_t i, void *ctx);
void workahead_run(size_t n, size_t window, workahead_fn prep, workahead_fn done, void *ctx);

#endif
