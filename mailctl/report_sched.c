/* report_sched.c — the master's schedules: every dmarc_report_interval
 * (tern.conf; 0 = never) it runs `mailctl dmarc report --log`, every
 * tlsrpt_report_interval `mailctl tlsrpt report --log`, each as a child
 * outside its own loop, with the queue's account (the one that owns the
 * spool's record directories and may enqueue), so the report code (DNS, XML,
 * JSON, records read from disk) never runs as root. Every
 * dkim_rotate_interval it runs `mailctl dkim rotate --scheduled`, which stays
 * root as the admin's rotate does: the key directory is root's and a switch
 * asks the master (run/master.sock, root only) to reload. One run of each at
 * a time. */
#include "mailctl/report_sched.h"
#include "common/log.h"
#include "common/privdrop.h"
#include "common/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const struct report_kind {
	const char *name;	/* for the log: "dmarc report" */
	const char *command;	/* mailctl's command words */
	const char *verb;
	const char *flag;	/* "run by the master, say it in the log" */
	const char *interval_key;
	bool as_root;		/* else as the queue's account */
} kinds[REPORT_KINDS] = {
	{ "dmarc report", "dmarc", "report", "--log", "dmarc_report_interval", false },
	{ "tlsrpt report", "tlsrpt", "report", "--log", "tlsrpt_report_interval", false },
	{ "dkim rotate", "dkim", "rotate", "--scheduled", "dkim_rotate_interval", true },
};

static uint64_t interval_ms(const struct master *m, int k)
{
	return cfg_int(&m->in.conf, kinds[k].interval_key) * 1000;
}

void report_sched_init(struct master *m)
{
	for (int k = 0; k < REPORT_KINDS; k++) {
		uint64_t iv = interval_ms(m, k);
		m->report_due_ms[k] = iv ? now_ms() + iv : UINT64_MAX;
		m->report_pid[k] = 0;
	}
}

/* In the child: become `mailctl -c DIR COMMAND VERB FLAG` (as the queue's
 * account unless the kind needs root). Never returns. */
static void run_child(struct master *m, int k)
{
	child_reset_signals();
	if (m->log_fd >= 0)
		setenv("TERN_LOG_FD", "2", 1);	/* our stderr is the log file */
	else
		unsetenv("TERN_LOG_FD");
	if (!kinds[k].as_root)
		privdrop(ACCT_QUEUED, NULL);
	char *argv[] = { "mailctl", "-c", m->in.dir, (char *)kinds[k].command,
			 (char *)kinds[k].verb, (char *)kinds[k].flag, NULL };
	execv("/proc/self/exe", argv);
	log_err("%s: cannot run mailctl: %s", kinds[k].name, strerror(errno));
	_exit(127);
}

static void tick_one(struct master *m, int k)
{
	uint64_t now = now_ms(), iv = interval_ms(m, k);
	if (!iv) {
		m->report_due_ms[k] = UINT64_MAX;	/* switched off by a reload */
		return;
	}
	if (m->report_due_ms[k] == UINT64_MAX || m->report_due_ms[k] > now + iv)
		m->report_due_ms[k] = now + iv;	/* switched on or shortened by a reload */
	if (m->state != M_RUNNING || now < m->report_due_ms[k])
		return;
	m->report_due_ms[k] = now + iv;
	if (m->report_pid[k] > 0) {
		log_warn("%s: the previous run (pid=%d) is still going; skipping this one",
			 kinds[k].name, (int)m->report_pid[k]);
		return;
	}
	pid_t pid = fork();
	if (pid < 0) {
		log_err("%s: fork: %s", kinds[k].name, strerror(errno));
		return;
	}
	if (pid == 0)
		run_child(m, k);
	m->report_pid[k] = pid;
	log_info("%s: started pid=%d", kinds[k].name, (int)pid);
}

void report_sched_tick(struct master *m)
{
	for (int k = 0; k < REPORT_KINDS; k++)
		tick_one(m, k);
}

bool report_sched_reaped(struct master *m, pid_t pid, int status)
{
	int k = 0;
	while (k < REPORT_KINDS && (pid <= 0 || pid != m->report_pid[k]))
		k++;
	if (k == REPORT_KINDS)
		return false;
	m->report_pid[k] = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_info("%s: pid=%d done", kinds[k].name, (int)pid);
	else
		log_warn("%s: pid=%d ended with %s %d", kinds[k].name, (int)pid,
			 WIFEXITED(status) ? "status" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return true;
}

uint64_t report_sched_due(const struct master *m)
{
	uint64_t due = UINT64_MAX;
	for (int k = 0; k < REPORT_KINDS; k++)
		if (m->report_due_ms[k] < due)
			due = m->report_due_ms[k];
	return due;
}
