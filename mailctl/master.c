/* master.c — `mailctl start`: check the config, bind the ports, daemonize, start
 * every daemon of the process table and supervise them; the control socket
 * answers status, reload and stop. The only tern process that keeps root. */
#include "mailctl/check.h"
#include "mailctl/commands.h"
#include "mailctl/control.h"
#include "mailctl/instctl.h"
#include "mailctl/master.h"
#include "mailctl/accounts.h"
#include "mailctl/report_sched.h"
#include "mailctl/runstate.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define CTL_READ_TIMEOUT_MS 2000

static char *log_path(const struct instance *in)
{
	return xasprintf("%s/tern.log", in->log_dir);
}

/* Where an administrator finds the details: the log file, or syslog. */
static char *log_where(const struct instance *in)
{
	if (strcmp(cfg_str(&in->conf, "log"), "file"))
		return xstrdup("syslog, mail facility");
	return log_path(in);
}

void master_report(struct master *m, bool ok, const char *msg)
{
	if (m->report_fd < 0)
		return;
	char *line = xasprintf("%c%s", ok ? 'O' : 'E', msg);
	(void)write_all(m->report_fd, line, strlen(line));
	free(line);
	close(m->report_fd);
	m->report_fd = -1;
}

/* Every inherited descriptor above stderr must not reach the daemons. */
static void cloexec_inherited(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d)))
		if (atoi(e->d_name) > 2 && atoi(e->d_name) != dirfd(d))
			fd_cloexec(atoi(e->d_name));
	closedir(d);
}

void master_apply_log_level(const struct instance *in)
{
	const char *l = cfg_str(&in->conf, "log_level");
	log_set_level(!strcmp(l, "error") ? LOG_LVL_ERR : !strcmp(l, "warning") ? LOG_LVL_WARN :
		      !strcmp(l, "debug") ? LOG_LVL_DEBUG : LOG_LVL_INFO);
}

static void detach(struct master *m)
{
	setsid();
	if (chdir("/") < 0)
		fatal_errno("chdir /");
	umask(022);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, 0);
		/* stdout/stderr of the master and its children land in the log. */
		dup2(m->log_fd >= 0 ? m->log_fd : null, 1);
		dup2(m->log_fd >= 0 ? m->log_fd : null, 2);
		close(null);
	}
	cloexec_inherited();
}

static int setup_signals(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

static void handle_signals(struct master *m)
{
	struct signalfd_siginfo si;
	char why[1024];
	while (read(m->sig_fd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGCHLD) {
			children_reap(m);
		} else if (si.ssi_signo == SIGHUP) {
			if (master_reload(m, why, sizeof why) < 0)
				log_err("master: reload refused: %s", why);
		} else {
			master_begin_stop(m, 0);
		}
	}
}

static void handle_control(struct master *m)
{
	int fd = accept_gate_accept(&m->ctl_gate, m->ctl_fd, SOCK_CLOEXEC);
	unsigned uid;
	struct ipc_msg req;
	char why[4096], *text = NULL;
	if (fd < 0)
		return;
	if (ipc_peer_uid(fd, &uid, NULL) < 0 || (uid != 0 && uid != getuid())) {
		close(fd);
		return;
	}
	if (ipc_recv(fd, &req, CTL_READ_TIMEOUT_MS) < 0) {
		close(fd);
		return;
	}
	switch (ctl_request_type(&req)) {
	case CTL_STATUS:
		master_status_text(m, &text);
		ctl_reply(fd, 0, text);
		free(text);
		break;
	case CTL_STOP:
		if (m->stop_client >= 0)
			ctl_reply(fd, 0, "already stopping");
		else
			m->stop_client = fd;
		master_begin_stop(m, 0);
		break;
	case CTL_RELOAD: {
		int r = master_reload(m, why, sizeof why);
		if (r < 0)
			ctl_reply(fd, 1, why);
		else if (r == 0)
			ctl_reply(fd, 0, "reloaded");
		else
			m->reload_client = fd;
		break;
	}
	default:
		log_warn("master: malformed control request (type %u) refused", req.hdr.type);
		ctl_reply(fd, 1, "unknown request");
	}
	ipc_msg_free(&req);
}

static void master_finish(struct master *m)
{
	char *sock = xasprintf("%s/%s", m->in.run_dir, MASTER_SOCKET);
	char *pidf = xasprintf("%s/%s", m->in.run_dir, MASTER_PIDFILE);
	if (m->exit_code && m->report_fd >= 0) {
		char *lp = log_where(&m->in);
		char *msg = xasprintf("%s; nothing is left running (details in %s)",
				      m->fail_msg[0] ? m->fail_msg : "start-up failed", lp);
		master_report(m, false, msg);
		free(msg);
		free(lp);
	}
	unlink(sock);
	unlink(pidf);
	log_info("master: stopped");
	if (m->stop_client >= 0)
		ctl_reply(m->stop_client, 0, "stopped");
	free(sock);
	free(pidf);
	exit(m->exit_code);
}

static void master_loop(struct master *m)
{
	for (;;) {
		struct pollfd pf[2 + MASTER_MAX_CHILDREN];
		struct child *who[2 + MASTER_MAX_CHILDREN];
		nfds_t n = 0;
		pf[n++] = (struct pollfd){ m->sig_fd, POLLIN, 0 };
		int shut = accept_gate_wait_ms(&m->ctl_gate);
		pf[n++] = (struct pollfd){ shut < 0 ? m->ctl_fd : -1, POLLIN, 0 };
		for (size_t i = 0; i < MASTER_MAX_CHILDREN; i++)
			if (m->kids[i].state == CH_STARTING && m->kids[i].ready_fd >= 0) {
				who[n] = &m->kids[i];
				pf[n++] = (struct pollfd){ m->kids[i].ready_fd, POLLIN, 0 };
			}
		uint64_t due = children_next_due(m), now = now_ms();
		int timeout = due == UINT64_MAX ? -1 : due <= now ? 0 : (int)(due - now);
		if (m->state == M_STOPPING && (timeout < 0 || timeout > 100))
			timeout = 100;
		if (shut >= 0 && (timeout < 0 || timeout > shut))
			timeout = shut;
		if (poll(pf, n, timeout) < 0 && errno != EINTR)
			fatal_errno("poll");
		if (pf[0].revents)
			handle_signals(m);
		if (pf[1].revents & POLLIN)
			handle_control(m);
		for (nfds_t i = 2; i < n; i++)
			if (pf[i].revents && who[i]->ready_fd == pf[i].fd)
				child_ready_event(m, who[i]);
		children_reap(m);
		children_timers(m);
		report_sched_tick(m);
		if (m->state == M_STOPPING && master_all_gone(m))
			master_finish(m);
	}
}

/* In the daemonized master: set up, then start the first daemon. */
static void master_run(struct master *m)
{
	detach(m);
	pidfile_write(m->pid_fd, getpid());
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	m->sig_fd = setup_signals();
	if (m->log_fd >= 0) {
		log_init("master", "stderr");
		log_use_fd(m->log_fd);
	} else {
		log_init("master", "syslog");
	}
	master_apply_log_level(&m->in);
	if (getrandom(m->secret, sizeof m->secret, 0) != (ssize_t)sizeof m->secret ||
	    getrandom(m->agent_key, sizeof m->agent_key, 0) != (ssize_t)sizeof m->agent_key)
		fatal_errno("getrandom");
	char *sock = xasprintf("%s/%s", m->in.run_dir, MASTER_SOCKET);
	m->ctl_fd = ipc_listen(sock, 0600);
	m->ctl_gate.name = "master.sock";
	if (m->sig_fd < 0 || m->ctl_fd < 0) {
		char *msg = xasprintf("cannot create %s: %s (use a shorter instance path?)", sock,
				      strerror(errno));
		master_report(m, false, msg);
		exit(1);
	}
	free(sock);
	log_info("master: starting %s (pid=%d)", m->in.dir, (int)getpid());
	m->state = M_STARTING;
	m->next_initial = 0;
	report_sched_init(m);
	master_start_next(m);
	master_loop(m);
}

/* In `mailctl start`: wait for the master's verdict on the report pipe. */
static int wait_report(int fd, const struct instance *in)
{
	char buf[1024];
	size_t len = 0;
	ssize_t r;
	while (len < sizeof buf - 1 && (r = read(fd, buf + len, sizeof buf - 1 - len)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	close(fd);
	if (len > 0 && buf[0] == 'O') {
		printf("started %s\n", in->dir);
		return 0;
	}
	if (len > 0)
		return cmd_error("%s", buf + 1);
	char *where = log_where(in);
	cmd_error("the master exited during start-up; details in %s", where);
	free(where);
	return 1;
}

static int open_log(struct master *m)
{
	m->log_fd = -1;
	if (strcmp(cfg_str(&m->in.conf, "log"), "file"))
		return 0;
	char *p = log_path(&m->in);
	m->log_fd = open(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (m->log_fd < 0)
		cmd_error("cannot open %s: %s; check log_dir in %s/tern.conf", p, strerror(errno),
			  m->in.dir);
	free(p);
	return m->log_fd < 0 ? -1 : 0;
}

int master_start(const char *dir)
{
	static struct master m;
	struct cfg_errors errs = { 0 };
	pid_t other;
	int rep[2];

	if (instance_require(dir, &m.in) < 0)
		return 1;
	int n = instance_check(m.in.dir, &errs);
	if (n > 0) {
		for (int i = 0; i < errs.count; i++)
			fprintf(stderr, "%s\n", errs.msg[i]);
		return cmd_error("not starting: %d configuration error%s (listed above); fix and retry",
				 n, n == 1 ? "" : "s");
	}
	/* An instance made before a release that added an account (tern-sts) */
	char why[256];
	if (accounts_ensure(why, sizeof why) < 0)
		return cmd_error("%s", why);
	m.pid_fd = pidfile_lock(m.in.run_dir, &other);
	if (m.pid_fd < 0 && other)
		return cmd_error("instance %s is already running (master pid %d); use `mailctl stop` "
				 "or `mailctl restart`", m.in.dir, (int)other);
	if (m.pid_fd < 0 && errno == EWOULDBLOCK)
		return cmd_error("instance %s is being started by another mailctl right now; see "
				 "`mailctl status` in a moment", m.in.dir);
	if (m.pid_fd < 0)
		return cmd_error("cannot lock %s/%s: %s; check run_dir in %s/tern.conf", m.in.run_dir,
				 MASTER_PIDFILE, strerror(errno), m.in.dir);
	if (listeners_open(&m.in, &m.ls) < 0 || open_log(&m) < 0 || pipe2(rep, O_CLOEXEC) < 0)
		return 1;
	m.report_fd = rep[1];
	m.reload_client = m.stop_client = -1;
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return cmd_error("cannot fork: %s", strerror(errno));
	if (pid == 0) {
		close(rep[0]);
		master_run(&m);
	}
	close(rep[1]);
	return wait_report(rep[0], &m.in);
}

int cmd_start(const char *dir, int argc, char **argv)
{
	if (cmd_wants_help(argc, argv, "start   (start every daemon; returns once all are ready)"))
		return 0;
	if (argc > 1)
		return cmd_error("start takes no arguments (try mailctl start --help)");
	return master_start(dir);
}
