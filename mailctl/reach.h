/* reach.h — can every daemon account reach the directories it opens by path
 * once it has dropped root? An instance made under a directory those accounts
 * cannot search (`mailctl init "$(mktemp -d)/inst"` as root: mode 0700) would
 * otherwise fail only at `start`, with "Permission denied" in a daemon's log.
 * `mailctl init` and `mailctl check` ask this first. */
#ifndef TERN_MAILCTL_REACH_H
#define TERN_MAILCTL_REACH_H

#include "common/config.h"
#include "common/instance.h"

/* As root: one error per account and path it cannot reach, naming the
 * directory that stops it and what to change. Not root: nothing (every process
 * runs as the invoking user). Returns the number of errors added. */
int reach_check(const struct instance *in, struct cfg_errors *errs);

#endif
