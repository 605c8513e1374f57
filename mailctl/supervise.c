/* supervise.c — the master's children: spawn with the daemon.h contract, wait
 * for readiness, verify the privilege drop, restart with back-off, reload by
 * generations, stop. */
#include "mailctl/check.h"
#include "mailctl/control.h"
#include "mailctl/report_sched.h"
#include "mailctl/master.h"
#include "mailctl/runstate.h"
#include "common/log.h"
#include "common/privdrop.h"
#include "common/sandbox.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void clear_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);
	if (fl >= 0)
		fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
}

void child_reset_signals(void)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	const int sigs[] = { SIGPIPE, SIGHUP, SIGTERM, SIGINT, SIGCHLD };
	for (size_t i = 0; i < ARRAY_LEN(sigs); i++)
		signal(sigs[i], SIG_DFL);
}

/* In the child: pass fd (inherited across exec) in the environment as var. */
static void pass_fd(const char *var, int fd)
{
	char num[16];
	if (fd < 0) {
		unsetenv(var);
		return;
	}
	clear_cloexec(fd);
	snprintf(num, sizeof num, "%d", fd);
	setenv(var, num, 1);
}

/* The read ends of the pipes carrying a child's ready byte and run keys. */
struct spawn_fds {
	int ready_w;
	int secret_r;		/* -1 unless the role has KEY_LOGIN */
	int agent_key_r;	/* -1 unless the role has KEY_AGENT */
};

/* In the forked child: become the daemon. Never returns. */
static void exec_child(struct master *m, const struct proc_def *def, const struct spawn_fds *f)
{
	child_reset_signals();
	setpgid(0, 0);	/* its own group: stop reaches the sessions it forks */

	char *listen = listeners_env(&m->ls, def->listen);
	for (size_t i = 0; listen && i < m->ls.n; i++)
		for (const char *const *s = def->listen; *s; s++)
			if (!strcmp(*s, m->ls.v[i].service) && m->ls.v[i].fd >= 0)
				clear_cloexec(m->ls.v[i].fd);
	if (listen)
		setenv("TERN_LISTEN_FDS", listen, 1);
	else
		unsetenv("TERN_LISTEN_FDS");
	pass_fd("TERN_READY_FD", f->ready_w);
	pass_fd("TERN_SECRET_FD", f->secret_r);
	pass_fd("TERN_AGENT_KEY_FD", f->agent_key_r);
	pass_fd("TERN_LOG_FD", m->log_fd);
	char *path = tern_binary_path(def->binary);
	char *argv[4 + PROC_MAX_ARGS] = { path, "-c", m->in.dir };
	for (int i = 0; i < PROC_MAX_ARGS && def->args[i]; i++)
		argv[3 + i] = (char *)def->args[i];
	execv(path, argv);
	log_err("%s: cannot run %s: %s", def->name, path, strerror(errno));
	_exit(127);
}

/* A pipe holding key (it fits the pipe buffer); its read end, or -1 with errno. */
static int key_pipe(const unsigned char *key, size_t n)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	(void)write_all(p[1], key, n);
	close(p[1]);
	return p[0];
}

static void close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Start def in slot k. 0, or -1 (fork/pipe failure, logged). */
static int spawn_into(struct master *m, struct child *k, const struct proc_def *def, int replaces)
{
	int ready[2];
	if (pipe2(ready, O_CLOEXEC) < 0)
		goto fail;
	struct spawn_fds f = { ready[1], -1, -1 };
	int keys[2] = { -1, -1 };
	if (((def->keys & KEY_LOGIN) && (keys[0] = key_pipe(m->secret, sizeof m->secret)) < 0) ||
	    ((def->keys & KEY_AGENT) && (keys[1] = key_pipe(m->agent_key, sizeof m->agent_key)) < 0)) {
		close_fds(ready, 2);
		close_fds(keys, 2);
		goto fail;
	}
	f.secret_r = keys[0];
	f.agent_key_r = keys[1];
	pid_t pid = fork();
	if (pid == 0)
		exec_child(m, def, &f);
	close(ready[1]);
	close_fds(keys, 2);
	if (pid < 0) {
		close(ready[0]);
		goto fail;
	}
	setpgid(pid, pid);
	fd_nonblock(ready[0]);
	k->def = def;
	k->state = CH_STARTING;
	k->pid = pid;
	k->ready_fd = ready[0];
	k->spawned_ms = now_ms();
	k->due_ms = k->spawned_ms + READY_TIMEOUT_MS;
	k->replaces = replaces;
	log_info("%s: pid=%d starting", def->name, (int)pid);
	return 0;
fail:
	log_err("%s: cannot start: %s", def->name, strerror(errno));
	return -1;
}

int child_spawn(struct master *m, const struct proc_def *def, int replaces)
{
	for (size_t i = 0; i < MASTER_MAX_CHILDREN; i++) {
		struct child *k = &m->kids[i];
		if (k->state != CH_FREE)
			continue;
		memset(k, 0, sizeof *k);
		k->ready_fd = -1;
		if (spawn_into(m, k, def, replaces) < 0) {
			k->state = CH_FREE;
			return -1;
		}
		return (int)i;
	}
	log_err("%s: cannot start: too many processes", def->name);
	return -1;
}

static void start_failed(struct master *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void start_failed(struct master *m, const char *fmt, ...)
{
	if (!m->fail_msg[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(m->fail_msg, sizeof m->fail_msg, fmt, ap);
		va_end(ap);
	}
	master_begin_stop(m, 1);
}

/* Start-up goes through the table one entry at a time. */
void master_start_next(struct master *m)
{
	if (m->next_initial < nprocs) {
		const struct proc_def *def = &procs[m->next_initial++];
		if (child_spawn(m, def, -1) < 0)
			start_failed(m, "cannot start %s (fork failed); see the log", def->name);
		return;
	}
	m->state = M_RUNNING;
	log_info("master: all %zu processes ready", nprocs);
	master_report(m, true, "");
}

/* As root, a daemon must run under its account and in its chroot once ready. */
static int verify_identity(struct master *m, struct child *k, char *why, size_t len)
{
	uid_t uid;
	gid_t gid;
	if (!running_as_root())
		return 0;
	if (account_ids(k->def->account, &uid, &gid) < 0) {
		snprintf(why, len, "account %s is missing (run `mailctl init` or `make install` as root)",
			 k->def->account);
		return -1;
	}
	long u = proc_uid(k->pid);
	if (u != (long)uid) {
		snprintf(why, len, "it runs as uid %ld instead of %s", u, k->def->account);
		return -1;
	}
	if (!proc_ids_are(k->pid, (long)uid, (long)gid)) {
		snprintf(why, len, "it kept other user or group ids than those of %s (uids, gids and "
			 "supplementary groups must all be %s's)", k->def->account, k->def->account);
		return -1;
	}
	if (!k->def->chroot)
		return 0;
	char *want = cfg_path(&m->in.conf, k->def->chroot), real[PATH_MAX], root[PATH_MAX];
	char link[64];
	snprintf(link, sizeof link, "/proc/%d/root", (int)k->pid);
	ssize_t n = readlink(link, root, sizeof root - 1);
	int ok = n > 0 && realpath(want, real);
	if (ok) {
		root[n] = '\0';
		ok = !strcmp(root, real);
	}
	if (!ok)
		snprintf(why, len, "it is not chrooted to %s", want);
	free(want);
	return ok ? 0 : -1;
}

static void reload_check_done(struct master *m)
{
	if (m->reload_client < 0)
		return;
	for (size_t i = 0; i < MASTER_MAX_CHILDREN; i++)
		if (m->kids[i].state != CH_FREE && m->kids[i].replaces >= 0)
			return;
	bool ok = !m->reload_errors[0];
	ctl_reply(m->reload_client, ok ? 0 : 1, ok ? "reloaded" : m->reload_errors);
	m->reload_client = -1;
	m->reload_errors[0] = '\0';
}

static void became_ready(struct master *m, struct child *k)
{
	k->state = CH_RUNNING;
	log_info("%s: pid=%d ready", k->def->name, (int)k->pid);
	if (k->replaces >= 0) {
		struct child *old = &m->kids[k->replaces];
		if (old->state == CH_RUNNING && old->pid > 0) {
			kill(old->pid, SIGHUP);
			old->state = CH_DRAINING;
			log_info("%s: pid=%d draining (replaced by pid=%d)", old->def->name,
				 (int)old->pid, (int)k->pid);
		}
		k->replaces = -1;
		reload_check_done(m);
	}
	if (m->state == M_STARTING)
		master_start_next(m);
}

void child_ready_event(struct master *m, struct child *k)
{
	char b, why[256];
	ssize_t n = read(k->ready_fd, &b, 1);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	close(k->ready_fd);
	k->ready_fd = -1;
	if (n != 1)
		return;	/* closed without a byte: its exit (or the deadline) follows */
	if (verify_identity(m, k, why, sizeof why) < 0) {
		log_err("%s: pid=%d refused: %s", k->def->name, (int)k->pid, why);
		if (m->state == M_STARTING)
			snprintf(m->fail_msg, sizeof m->fail_msg, "%s did not drop its privileges: %s",
				 k->def->name, why);
		kill(-k->pid, SIGKILL);
		kill(k->pid, SIGKILL);
		return;
	}
	became_ready(m, k);
}

static void schedule_restart(struct master *m, struct child *k, const char *how)
{
	uint64_t now = now_ms(), max = cfg_int(&m->in.conf, "restart_backoff_max") * 1000;
	if (max < BACKOFF_FIRST_MS)
		max = BACKOFF_FIRST_MS;
	/* A daemon that served for a while (the longer of a minute and the longest
	 * back-off) was healthy: its next failure starts the back-off over. */
	if (now - k->spawned_ms > (max > BACKOFF_RESET_MS ? max : BACKOFF_RESET_MS))
		k->failures = 0;
	if (k->failures < 20)
		k->failures++;
	uint64_t delay = (uint64_t)BACKOFF_FIRST_MS << (k->failures - 1);
	if (delay > max)
		delay = max;
	k->state = CH_BACKOFF;
	k->due_ms = now + delay;
	log_warn("%s: pid=%d %s; restarting in %llu ms (failure %u)", k->def->name, (int)k->pid,
		 how, (unsigned long long)delay, k->failures);
}

static void child_exited(struct master *m, struct child *k, int st)
{
	char how[96];
	sandbox_describe_exit(st, how, sizeof how);
	if (k->ready_fd >= 0) {
		close(k->ready_fd);
		k->ready_fd = -1;
	}
	if (m->state == M_STOPPING || k->state == CH_DRAINING) {
		log_info("%s: pid=%d %s", k->def->name, (int)k->pid, how);
		k->state = CH_FREE;
	} else if (k->replaces >= 0) {
		log_err("%s: new generation pid=%d %s before it was ready; keeping the old one",
			k->def->name, (int)k->pid, how);
		size_t used = strlen(m->reload_errors);
		snprintf(m->reload_errors + used, sizeof m->reload_errors - used,
			 "%s%s: the new process %s before it was ready (old one kept; see the log)",
			 used ? "\n" : "", k->def->name, how);
		k->state = CH_FREE;
		k->replaces = -1;
		reload_check_done(m);
	} else if (m->state == M_STARTING) {
		log_err("%s: pid=%d %s during start-up", k->def->name, (int)k->pid, how);
		k->state = CH_FREE;
		start_failed(m, "%s failed to start: it %s", k->def->name, how);
	} else {
		schedule_restart(m, k, how);
	}
	k->pid = 0;
}

void children_reap(struct master *m)
{
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		if (report_sched_reaped(m, pid, st))
			continue;
		for (size_t i = 0; i < MASTER_MAX_CHILDREN; i++) {
			struct child *k = &m->kids[i];
			if (k->state != CH_FREE && k->pid == pid) {
				child_exited(m, k, st);
				break;
			}
		}
	}
}

void children_timers(struct master *m)
{
	uint64_t now = now_ms();
	for (size_t i = 0; i < MASTER_MAX_CHILDREN; i++) {
		struct child *k = &m->kids[i];
		if (k->state == CH_STARTING && k->pid > 0 && now >= k->due_ms) {
			log_err("%s: pid=%d not ready after %d s; killing it", k->def->name,
				(int)k->pid, READY_TIMEOUT_MS / 1000);
			if (m->state == M_STARTING)
				snprintf(m->fail_msg, sizeof m->fail_msg,
					 "%s did not report ready within %d s", k->def->name,
					 READY_TIMEOUT_MS / 1000);
			kill(-k->pid, SIGKILL);
			kill(k->pid, SIGKILL);
			k->due_ms = UINT64_MAX;
		} else if (k->state == CH_BACKOFF && now >= k->due_ms && m->state == M_RUNNING) {
			if (spawn_into(m, k, k->def, -1) < 0)
				schedule_restart(m, k, "could not be started");
		}
	}
	if (m->state == M_STOPPING && !m->stop_killed && now >= m->stop_deadline) {
		log_warn("master: processes left after %d s; killing them", STOP_TIMEOUT_MS / 1000);
		for (size_t i = 0; i < MASTER_MAX_CHILDREN; i++)
			if (m->kids[i].state != CH_FREE && m->kids[i].pid > 0) {
				kill(-m->kids[i].pid, SIGKILL);
				kill(m->kids[i].pid, SIGKILL);
			}
		kill_children_of(getpid(), SIGKILL);
		m->stop_killed = true;
	}
}

uint64_t children_next_due(const struct master *m)
{
	uint64_t due = UINT64_MAX;
	for (size_t i = 0; i < MASTER_MAX_CHILDREN; i++) {
		const struct child *k = &m->kids[i];
		if ((k->state == CH_STARTING || k->state == CH_BACKOFF) && k->due_ms < due)
			due = k->due_ms;
	}
	if (m->state == M_STOPPING && !m->stop_killed && m->stop_deadline < due)
		due = m->stop_deadline;
	if (m->state == M_RUNNING && report_sched_due(m) < due)
		due = report_sched_due(m);
	return due;
}

void master_begin_stop(struct master *m, int exit_code)
{
	if (m->state == M_STOPPING)
		return;
	log_info("master: stopping");
	m->state = M_STOPPING;
	m->exit_code = exit_code;
	m->stop_deadline = now_ms() + STOP_TIMEOUT_MS;
	listeners_close(&m->ls);
	for (size_t i = 0; i < MASTER_MAX_CHILDREN; i++) {
		struct child *k = &m->kids[i];
		if (k->state == CH_BACKOFF)
			k->state = CH_FREE;
		if (k->state != CH_FREE && k->pid > 0) {
			kill(-k->pid, SIGTERM);
			kill(k->pid, SIGTERM);
		}
	}
	if (m->reload_client >= 0) {
		ctl_reply(m->reload_client, 1, "the instance is stopping; reload abandoned");
		m->reload_client = -1;
	}
}

bool master_all_gone(struct master *m)
{
	siginfo_t si;
	children_reap(m);
	/* Orphans of our daemons are re-parented to us (child subreaper): stop them too. */
	kill_children_of(getpid(), SIGTERM);
	memset(&si, 0, sizeof si);
	return waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0 && errno == ECHILD;
}

int master_reload(struct master *m, char *why, size_t whylen)
{
	struct cfg_errors errs = { 0 };
	if (m->state != M_RUNNING || m->reload_client >= 0) {
		snprintf(why, whylen, "the instance is busy (starting, stopping or reloading); retry "
				      "in a moment");
		return -1;
	}
	if (instance_check(m->in.dir, &errs) > 0) {
		size_t used = 0;
		why[0] = '\0';
		for (int i = 0; i < errs.count && used < whylen; i++)
			used += (size_t)snprintf(why + used, whylen - used, "%s\n", errs.msg[i]);
		if (used < whylen)
			snprintf(why + used, whylen - used, "not reloaded: fix the configuration "
				 "(`mailctl check` lists the errors); the running processes are unchanged");
		return -1;
	}
	struct instance fresh;
	struct cfg_errors ignore = { 0 };
	if (instance_load(&fresh, m->in.dir, &ignore) == 0) {
		if (fresh.port_base != m->in.port_base ||
		    strcmp(cfg_str(&fresh.conf, "listen"), cfg_str(&m->in.conf, "listen")))
			log_warn("master: listen/port_base changed: takes effect on `mailctl restart`");
		instance_free(&m->in);
		m->in = fresh;
		master_apply_log_level(&m->in);
	} else {
		instance_free(&fresh);
	}
	log_info("master: reloading");
	int pending = 0;
	for (size_t i = 0; i < MASTER_MAX_CHILDREN; i++) {
		struct child *k = &m->kids[i];
		if (k->state != CH_RUNNING || k->pid <= 0)
			continue;
		if (k->def->reload == RELOAD_IN_PLACE) {
			kill(k->pid, SIGHUP);
		} else if (child_spawn(m, k->def, (int)i) >= 0) {
			pending++;
		} else {
			log_err("%s: cannot start a new generation; the old one keeps serving",
				k->def->name);
		}
	}
	return pending;
}

static const char *state_name(enum child_state s)
{
	switch (s) {
	case CH_STARTING: return "starting";
	case CH_RUNNING: return "running";
	case CH_DRAINING: return "draining";
	case CH_BACKOFF: return "restarting";
	default: return "stopped";
	}
}

static char *append_line(char *text, const char *name, pid_t pid, const char *state)
{
	char user[64] = "-", pidbuf[16] = "-";
	if (pid > 0) {
		uid_name(proc_uid(pid), user, sizeof user);
		snprintf(pidbuf, sizeof pidbuf, "%d", (int)pid);
	}
	char *next = xasprintf("%s%s %s %s %s\n", text ? text : "", name, pidbuf, user, state);
	free(text);
	return next;
}

void master_status_text(const struct master *m, char **text)
{
	char *t = append_line(NULL, "master", getpid(),
			      m->state == M_STOPPING ? "stopping" :
			      m->state == M_STARTING ? "starting" : "running");
	for (size_t i = 0; i < MASTER_MAX_CHILDREN; i++) {
		const struct child *k = &m->kids[i];
		if (k->state != CH_FREE)
			t = append_line(t, k->def->name, k->pid, state_name(k->state));
	}
	*text = t;
}
