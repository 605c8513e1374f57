/* runprog.h — run a helper program (a daemon's --print-config or --check) with
 * bounded time and output. */
#ifndef TERN_MAILCTL_RUNPROG_H
#define TERN_MAILCTL_RUNPROG_H

#include <stddef.h>

#define RUNPROG_SPAWN_FAILED	(-1)
#define RUNPROG_TIMEOUT		(-2)
#define RUNPROG_SIGNALLED	(-3)

/* Run argv[0] (a path) with stdin from /dev/null. Its stdout goes to out_fd when
 * out_fd >= 0, else it is captured into *out (NUL-terminated, at most max bytes;
 * more is discarded). stderr is inherited. Killed after timeout_s seconds.
 * Returns the exit status 0-255 or one of the negative RUNPROG_ codes. */
int run_prog(char *const argv[], int out_fd, char **out, size_t max, int timeout_s);

#endif
