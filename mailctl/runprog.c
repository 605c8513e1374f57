/* runprog.c — fork/exec/wait with a deadline and a bounded capture buffer. */
#include "mailctl/runprog.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void child_exec(char *const argv[], int out_fd, int pipe_w)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	int devnull = open("/dev/null", O_RDONLY);
	if (devnull >= 0)
		dup2(devnull, 0);
	dup2(out_fd >= 0 ? out_fd : pipe_w, 1);
	execv(argv[0], argv);
	_exit(127);
}

/* Read the child's stdout until EOF or the deadline; false on timeout. */
static int drain(int fd, char *buf, size_t max, size_t *len, uint64_t deadline)
{
	for (;;) {
		uint64_t now = now_ms();
		if (now >= deadline)
			return -1;
		struct pollfd p = { fd, POLLIN, 0 };
		int r = poll(&p, 1, (int)(deadline - now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		char tmp[4096];
		ssize_t n = read(fd, tmp, sizeof tmp);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 0;
		size_t take = (size_t)n;
		if (take > max - *len)
			take = max - *len;
		memcpy(buf + *len, tmp, take);
		*len += take;
	}
}

/* Wait for pid until the deadline, then kill it. */
static int reap(pid_t pid, uint64_t deadline, int *st)
{
	for (;;) {
		pid_t r = waitpid(pid, st, WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
		if (now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, st, 0);
			return -1;
		}
		usleep(10000);
	}
}

int run_prog(char *const argv[], int out_fd, char **out, size_t max, int timeout_s)
{
	int p[2] = { -1, -1 };
	if (out_fd < 0 && pipe2(p, O_CLOEXEC) < 0)
		return RUNPROG_SPAWN_FAILED;
	pid_t pid = fork();
	if (pid < 0) {
		if (p[0] >= 0) {
			close(p[0]);
			close(p[1]);
		}
		return RUNPROG_SPAWN_FAILED;
	}
	if (pid == 0)
		child_exec(argv, out_fd, p[1]);
	uint64_t deadline = now_ms() + (uint64_t)timeout_s * 1000;
	int timed_out = 0, st = 0;
	if (out_fd < 0) {
		close(p[1]);
		char *buf = xmalloc(max + 1);
		size_t len = 0;
		timed_out = drain(p[0], buf, max, &len, deadline) < 0;
		buf[len] = '\0';
		*out = buf;
		close(p[0]);
	}
	if (timed_out) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		return RUNPROG_TIMEOUT;
	}
	if (reap(pid, deadline, &st) < 0)
		return RUNPROG_TIMEOUT;
	if (WIFSIGNALED(st))
		return RUNPROG_SIGNALLED;
	return WEXITSTATUS(st);
}
