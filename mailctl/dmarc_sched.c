/* dmarc_sched.c — the master's DMARC report schedule: every
 * dmarc_report_interval (tern.conf; 0 = never) it runs `mailctl dmarc report
 * --log` as a child, outside its own loop, with the queue's account (the one
 * that owns SPOOL/dmarc and may enqueue), so the report code (DNS, XML,
 * records read from disk) never runs as root. One run at a time. */
#include "mailctl/dmarc_sched.h"
#include "common/log.h"
#include "common/privdrop.h"
#include "common/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static uint64_t interval_ms(const struct master *m)
{
	return cfg_int(&m->in.conf, "dmarc_report_interval") * 1000;
}

void dmarc_sched_init(struct master *m)
{
	uint64_t iv = interval_ms(m);
	m->dmarc_due_ms = iv ? now_ms() + iv : UINT64_MAX;
	m->dmarc_pid = 0;
}

/* In the child: become `mailctl -c DIR dmarc report --log` as the queue's
 * account. Never returns. */
static void run_child(struct master *m)
{
	child_reset_signals();
	if (m->log_fd >= 0)
		setenv("TERN_LOG_FD", "2", 1);	/* our stderr is the log file */
	else
		unsetenv("TERN_LOG_FD");
	privdrop(ACCT_QUEUED, NULL);
	char *argv[] = { "mailctl", "-c", m->in.dir, "dmarc", "report", "--log", NULL };
	execv("/proc/self/exe", argv);
	log_err("dmarc report: cannot run mailctl: %s", strerror(errno));
	_exit(127);
}

void dmarc_sched_tick(struct master *m)
{
	uint64_t now = now_ms(), iv = interval_ms(m);
	if (!iv) {
		m->dmarc_due_ms = UINT64_MAX;	/* switched off by a reload */
		return;
	}
	if (m->dmarc_due_ms == UINT64_MAX || m->dmarc_due_ms > now + iv)
		m->dmarc_due_ms = now + iv;	/* switched on or shortened by a reload */
	if (m->state != M_RUNNING || now < m->dmarc_due_ms)
		return;
	m->dmarc_due_ms = now + iv;
	if (m->dmarc_pid > 0) {
		log_warn("dmarc report: the previous run (pid=%d) is still going; skipping this one",
			 (int)m->dmarc_pid);
		return;
	}
	pid_t pid = fork();
	if (pid < 0) {
		log_err("dmarc report: fork: %s", strerror(errno));
		return;
	}
	if (pid == 0)
		run_child(m);
	m->dmarc_pid = pid;
	log_info("dmarc report: started pid=%d", (int)pid);
}

bool dmarc_sched_reaped(struct master *m, pid_t pid, int status)
{
	if (pid != m->dmarc_pid || pid <= 0)
		return false;
	m->dmarc_pid = 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		log_info("dmarc report: pid=%d done", (int)pid);
	else
		log_warn("dmarc report: pid=%d ended with %s %d", (int)pid,
			 WIFEXITED(status) ? "status" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	return true;
}
