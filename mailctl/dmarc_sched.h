/* dmarc_sched.h — the master runs `mailctl dmarc report` every
 * dmarc_report_interval (dmarc_sched.c). */
#ifndef TERN_MAILCTL_DMARC_SCHED_H
#define TERN_MAILCTL_DMARC_SCHED_H

#include "mailctl/master.h"

#include <stdbool.h>
#include <sys/types.h>

void dmarc_sched_init(struct master *m);
/* Start a run when one is due (and the master is running). */
void dmarc_sched_tick(struct master *m);
/* A reaped child: true if it was the report run (its end is logged). */
bool dmarc_sched_reaped(struct master *m, pid_t pid, int status);

#endif
