/* report_sched.h — the master runs commands on their schedules:
 * `mailctl dmarc report` every dmarc_report_interval, `mailctl tlsrpt report`
 * every tlsrpt_report_interval, `mailctl dkim rotate --scheduled` every
 * dkim_rotate_interval (report_sched.c). */
#ifndef TERN_MAILCTL_REPORT_SCHED_H
#define TERN_MAILCTL_REPORT_SCHED_H

#include "mailctl/master.h"

#include <stdbool.h>
#include <sys/types.h>

void report_sched_init(struct master *m);
/* Start a run when one is due (and the master is running). */
void report_sched_tick(struct master *m);
/* A reaped child: true if it was a report run (its end is logged). */
bool report_sched_reaped(struct master *m, pid_t pid, int status);
/* The earliest time a report run is due (UINT64_MAX: none). */
uint64_t report_sched_due(const struct master *m);

#endif
