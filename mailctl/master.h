/* master.h — state of the supervising master (`mailctl start`). Split over
 * master.c (start-up, daemonizing, the event loop, control requests) and
 * supervise.c (children: spawn, readiness, exit, restart, reload, stop). */
#ifndef TERN_MAILCTL_MASTER_H
#define TERN_MAILCTL_MASTER_H

#include "mailctl/listen.h"
#include "mailctl/procs.h"
#include "common/instance.h"
#include "common/listener.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define MASTER_MAX_CHILDREN	64
#define READY_TIMEOUT_MS	30000	/* a daemon must report ready within this */
#define STOP_TIMEOUT_MS		10000	/* then SIGKILL */
#define BACKOFF_FIRST_MS	500
#define BACKOFF_RESET_MS	60000	/* up this long: the back-off starts over */

enum child_state {
	CH_FREE,	/* unused slot */
	CH_STARTING,	/* spawned, waiting for its ready byte */
	CH_RUNNING,
	CH_DRAINING,	/* old generation after reload: finishing its sessions */
	CH_BACKOFF,	/* died; restarted at due_ms */
};

struct child {
	const struct proc_def *def;
	enum child_state state;
	pid_t pid;		/* 0 when no process */
	int ready_fd;		/* read end of TERN_READY_FD, -1 when none */
	uint64_t spawned_ms;
	uint64_t due_ms;	/* ready deadline (STARTING) or restart time (BACKOFF) */
	unsigned failures;	/* consecutive early deaths, for the back-off */
	int replaces;		/* reload: index of the generation this one replaces, or -1 */
};

enum master_state { M_STARTING, M_RUNNING, M_STOPPING };

#define REPORT_KINDS 3	/* DMARC, TLS-RPT, DKIM rotation (report_sched.c) */

struct master {
	struct instance in;
	struct listeners ls;
	enum master_state state;
	int log_fd;		/* log file passed as TERN_LOG_FD, -1 with syslog */
	int pid_fd;		/* locked RUN/master.pid */
	int sig_fd;		/* signalfd: CHLD, TERM, INT, HUP */
	int ctl_fd;		/* RUN/master.sock */
	struct accept_gate ctl_gate;	/* shut for a pause when out of descriptors */
	int report_fd;		/* pipe to the waiting `mailctl start`, -1 once told */
	unsigned char secret[32];	/* login hand-offs (KEY_LOGIN) */
	unsigned char agent_key[32];	/* delivery agents' proof (KEY_AGENT) */
	struct child kids[MASTER_MAX_CHILDREN];
	size_t next_initial;	/* start-up: next table entry to start */
	int reload_client;	/* control fd waiting for the reload result, or -1 */
	char reload_errors[1024];
	int stop_client;	/* control fd waiting for the stop, or -1 */
	uint64_t stop_deadline;
	bool stop_killed;	/* SIGKILL already sent */
	int exit_code;
	/* report runs (report_sched.c): DMARC, TLS-RPT */
	uint64_t report_due_ms[REPORT_KINDS];	/* next run, UINT64_MAX = never */
	pid_t report_pid[REPORT_KINDS];		/* the run going on, 0 if none */
	char fail_msg[512];	/* why start-up failed (told to `mailctl start`) */
};

/* supervise.c */
/* Start-up: start the next table entry, or report success when all are ready. */
void master_start_next(struct master *m);
int child_spawn(struct master *m, const struct proc_def *def, int replaces);
void child_ready_event(struct master *m, struct child *k);
void children_reap(struct master *m);
void children_timers(struct master *m);
uint64_t children_next_due(const struct master *m);
void master_begin_stop(struct master *m, int exit_code);
bool master_all_gone(struct master *m);
int master_reload(struct master *m, char *why, size_t whylen);
void master_status_text(const struct master *m, char **text);
/* In a forked child of the master: default signal handling, nothing blocked. */
void child_reset_signals(void);

/* master.c */
int master_start(const char *dir);
void master_apply_log_level(const struct instance *in);
void master_report(struct master *m, bool ok, const char *msg);

#endif
