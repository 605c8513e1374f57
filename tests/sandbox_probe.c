/* sandbox_probe.c — a test library, never installed: preloaded (LD_PRELOAD)
 * into the daemons of a test instance, it makes a process attempt what its
 * sandbox must refuse, on a signal from the test:
 *   SIGUSR2  execve("/bin/true"): no role may run programs, so the seccomp
 *            filter kills the process (SIGSYS) and its supervisor logs it;
 *   SIGUSR1  the action in TERN_SANDBOX_PROBE: "open:PATH" (Landlock refuses a
 *            path outside the role) or "connect:PATH" (a stream socket to a
 *            Unix socket path: killed where the role may not make one);
 *   SIGWINCH openat(DIR, NAME, O_RDONLY) for every directory descriptor the
 *            process holds, NAME from TERN_SANDBOX_PROBE_HELD: the IMAP idle
 *            holder keeps O_PATH descriptors of parked folders' new/ and cur/,
 *            and must not be able to open a message through them.
 * Each attempt that returns is reported on stderr (the instance log):
 *   tern-sandbox-probe pid=N ACTION: refused (errno text) | allowed
 * The production binaries carry no test hook; this library is the switch. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

static char action[256];
static char held_name[256];

static void report(const char *what, long r, int err)
{
	char buf[512];
	int n = snprintf(buf, sizeof buf, "tern-sandbox-probe pid=%d %s: %s%s%s\n", (int)getpid(),
			 what, r < 0 ? "refused (" : "allowed", r < 0 ? strerror(err) : "",
			 r < 0 ? ")" : "");
	if (n > 0)
		(void)!write(2, buf, (size_t)n);
}

static void probe_exec(int sig)
{
	char *argv[] = { "/bin/true", NULL };
	long r = syscall(SYS_execve, "/bin/true", argv, NULL);
	report("execve", r, errno);
}

static void probe_open(const char *path)
{
	long fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	int err = errno;
	report(action, fd, err);
	if (fd >= 0)
		close((int)fd);
}

static void probe_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strncpy(sa.sun_path, path, sizeof sa.sun_path - 1);
	long s = syscall(SYS_socket, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	long r = s < 0 ? -1 : syscall(SYS_connect, s, &sa, sizeof sa);
	int err = errno;
	report(action, r, err);
	if (s >= 0)
		close((int)s);
}

/* Through each directory descriptor held: the highest descriptor looked at
 * is a few thousand (the tests park a handful of sessions). */
static void probe_held(int sig)
{
	for (int fd = 3; fd < 4096; fd++) {
		struct stat st;
		if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		long r = syscall(SYS_openat, fd, held_name, O_RDONLY | O_CLOEXEC);
		int err = errno;
		char what[300];
		snprintf(what, sizeof what, "held:%s", held_name);
		report(what, r, err);
		if (r >= 0)
			close((int)r);
	}
}

static void probe_action(int sig)
{
	if (!strncmp(action, "open:", 5))
		probe_open(action + 5);
	else if (!strncmp(action, "connect:", 8))
		probe_connect(action + 8);
}

__attribute__((constructor)) static void probe_init(void)
{
	const char *a = getenv("TERN_SANDBOX_PROBE");
	snprintf(action, sizeof action, "%s", a ? a : "");
	a = getenv("TERN_SANDBOX_PROBE_HELD");
	snprintf(held_name, sizeof held_name, "%s", a ? a : ".");
	struct sigaction sa = { .sa_handler = probe_exec, .sa_flags = SA_RESTART };
	sigaction(SIGUSR2, &sa, NULL);
	sa.sa_handler = probe_action;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = probe_held;
	sigaction(SIGWINCH, &sa, NULL);
}
