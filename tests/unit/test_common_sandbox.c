/* Unit tests: the seccomp allow-lists and Landlock rules (common/sandbox.h,
 * common/landlock.h). Each case runs in a child process that confines itself
 * and tries one thing; the parent reads how the child ended. */
#include "common/landlock.h"
#include "common/sandbox.h"
#include "tests/unit/check.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER 1
#endif
#endif

typedef int (*attempt_fn)(void);

/* Confine a child with allow, run fn; its wait status. */
static int run_confined(unsigned allow, attempt_fn fn)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		sandbox_seccomp("test", allow);
		_exit(fn());
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return st;
}

static bool killed(int st)
{
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS;
}

static bool exited0(int st)
{
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static int inet_socket(void)
{
	return socket(AF_INET, SOCK_STREAM, 0) >= 0 ? 0 : 1;
}

static int unix_stream(void)
{
	return socket(AF_UNIX, SOCK_STREAM, 0) >= 0 ? 0 : 1;
}

static int unix_dgram(void)
{
	return socket(AF_UNIX, SOCK_DGRAM, 0) >= 0 ? 0 : 1;
}

static int open_read(void)
{
	return open("/proc/self/status", O_RDONLY | O_CLOEXEC) >= 0 ? 0 : 1;
}

static int open_write(void)
{
	char p[512];
	snprintf(p, sizeof p, "%s/written", check_tmpdir());
	return open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600) >= 0 ? 0 : 1;
}

static void *thread_main(void *arg)
{
	return arg;
}

static int start_thread(void)
{
	pthread_t t;
	if (pthread_create(&t, NULL, thread_main, NULL) != 0)
		return 1;
	return pthread_join(t, NULL) == 0 ? 0 : 1;
}

static int do_fork(void)
{
	pid_t p = fork();
	if (p == 0)
		_exit(0);
	return p > 0 ? 0 : 1;
}

static int do_mount(void)
{
	syscall(SYS_mount, "none", "/", "tmpfs", 0, NULL);
	return 0;
}

static int do_abort(void)
{
	abort();
}

static void test_seccomp_groups(void)
{
	/* a call in no list at all */
	CHECK(killed(run_confined(0, do_mount)));
	/* sockets by family */
	CHECK(killed(run_confined(0, inet_socket)));
	CHECK(exited0(run_confined(SB_INET, inet_socket)));
	CHECK(killed(run_confined(0, unix_stream)));
	CHECK(exited0(run_confined(SB_UNIX, unix_stream)));
	CHECK(exited0(run_confined(0, unix_dgram)));	/* syslog's socket */
	/* files: read-only opens with SB_FILES_READ, any with SB_FILES */
	CHECK(exited0(run_confined(SB_FILES_READ, open_read)));
	CHECK(exited0(run_confined(SB_FILES, open_write)));
#ifndef SANITIZER	/* the sanitizer runtime may open files and fork (sandbox.h) */
	CHECK(killed(run_confined(0, open_read)));
	CHECK(killed(run_confined(SB_FILES_READ, open_write)));
	CHECK(killed(run_confined(SB_THREADS, do_fork)));
#endif
	/* threads only with SB_THREADS (clone3 says ENOSYS, clone with CLONE_THREAD) */
	CHECK(exited0(run_confined(SB_THREADS, start_thread)));
	CHECK(exited0(run_confined(SB_FORK, do_fork)));
	/* abort() still ends a process with its own signal */
	int st = run_confined(0, do_abort);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
}

static void test_describe(void)
{
	char buf[128];
	sandbox_describe_exit(SIGSYS, buf, sizeof buf);	/* a wait status: killed by 31 */
	CHECK(strstr(buf, "killed by SIGSYS") != NULL);
	sandbox_describe_exit(SIGKILL, buf, sizeof buf);
	CHECK_STR(buf, "killed by signal 9");
	sandbox_describe_exit(3 << 8, buf, sizeof buf);
	CHECK_STR(buf, "exited with status 3");
}

/* Child: confined to dir (read-only), reads inside, then outside, then writes
 * inside. Exit bits: 1 read inside, 2 read outside, 4 wrote inside, 8 no
 * Landlock. */
static int landlock_child(const char *dir, const char *outside)
{
	const struct ll_rule r = { .path = dir, .fd = -1, .access = LL_READ };
	int abi = landlock_confine(&r, 1, 0);
	if (abi < 0)
		return 255;
	int bits = abi == 0 ? 8 : 0;
	char p[1100];
	snprintf(p, sizeof p, "%s/in", dir);
	int fd = open(p, O_RDONLY);
	if (fd >= 0)
		bits |= 1;
	fd = open(outside, O_RDONLY);
	if (fd >= 0)
		bits |= 2;
	snprintf(p, sizeof p, "%s/new", dir);
	fd = open(p, O_WRONLY | O_CREAT, 0600);
	if (fd >= 0)
		bits |= 4;
	return bits;
}

static void test_landlock(void)
{
	char dir[512], outside[512];
	snprintf(dir, sizeof dir, "%s/ll", check_tmpdir());
	mkdir(dir, 0700);
	CHECK(check_put_file(dir, ".", "in", "inside\n") == 0);
	CHECK(check_put_file(check_tmpdir(), ".", "out", "outside\n") == 0);
	snprintf(outside, sizeof outside, "%s/out", check_tmpdir());
	pid_t pid = fork();
	if (pid == 0)
		_exit(landlock_child(dir, outside));
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 255);
	int bits = WEXITSTATUS(st);
	CHECK(bits & 1);
	if (bits & 8) {
		printf("common_sandbox: kernel without Landlock: only the positive case checked\n");
		return;
	}
	CHECK(!(bits & 2));
	CHECK(!(bits & 4));
}

int main(void)
{
	test_seccomp_groups();
	test_describe();
	test_landlock();
	return check_summary("common_sandbox");
}
