/* sandbox.c — seccomp allow-lists (libseccomp) and Landlock for the roles.
 * See sandbox.h; docs/ARCHITECTURE.md ("Sandboxing") explains each group. */
#include "common/sandbox.h"
#include "common/landlock.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>


/* Every role: its own memory, clocks, signals, the descriptors it holds
 * (read/write, poll, sockets it has: send/receive with fds, options),
 * futexes for locks, randomness for TLS, and exit. */
static const char *const base_calls[] = {
	"read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev",
	"close", "fstat", "newfstatat", "statx", "lseek", "fsync", "fdatasync",
	"mmap", "munmap", "mremap", "mprotect", "brk", "madvise", "mlock", "munlock",
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "rt_sigtimedwait",
	"getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid",
	"getresuid", "getresgid", "getgroups",
	"clock_gettime", "clock_getres", "gettimeofday", "time", "nanosleep", "clock_nanosleep",
	"alarm", "setitimer", "getitimer",
	"exit", "exit_group", "restart_syscall", "futex", "set_robust_list", "get_robust_list",
	"rseq", "sched_yield", "sched_getaffinity", "getrandom", "uname", "sysinfo",
	"getrlimit", "getrusage", "getcwd",
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
	"poll", "ppoll", "select", "pselect6", "eventfd2", "pipe", "pipe2", "timerfd_create",
	"timerfd_settime", "timerfd_gettime",
	"fcntl", "dup", "dup2", "dup3",
	"sendmsg", "recvmsg", "sendto", "recvfrom", "sendmmsg", "recvmmsg", "shutdown",
	"getsockopt", "setsockopt", "getsockname", "getpeername", "socketpair",
	"memfd_create",	/* anonymous memory as a file: httpd passes bodies in one */
	NULL,
};

static const char *const thread_calls[] = { "set_tid_address", NULL };	/* + clone below */
static const char *const fork_calls[] = { "wait4", "waitid", "kill", "setpgid", "getpgid",
					  "set_tid_address", NULL };
static const char *const accept_calls[] = { "accept", "accept4", NULL };
static const char *const connect_calls[] = { "connect", NULL };	/* + socket below */
/* libunbound (DNSSEC for DANE) binds its query sockets to random ports */
static const char *const inet_calls[] = { "bind", NULL };
static const char *const bind_calls[] = { "bind", "listen", "unlink", "unlinkat", "rename",
					  "renameat", "renameat2", "chmod", "fchmod", "fchmodat", NULL };
static const char *const read_calls[] = { "getdents64", "readlink", "readlinkat", "access",
					  "faccessat", "faccessat2", "statfs", "fstatfs", "flock",
					  "fadvise64", NULL };	/* + openat read-only below */
static const char *const file_calls[] = {
	"openat", "open", "creat", "mkdir", "mkdirat", "rmdir", "rename", "renameat", "renameat2",
	"link", "linkat", "unlink", "unlinkat", "ftruncate", "fallocate", "fchmod", "fchmodat",
	"utimensat", "futimesat", "umask", "fstatfs", "statfs", "getdents64", "readlink",
	"readlinkat", "access", "faccessat", "faccessat2", "flock", "fadvise64", "sync_file_range",
	"copy_file_range", "sendfile", NULL,
};
static const char *const inotify_calls[] = { "inotify_init1", "inotify_add_watch",
					     "inotify_rm_watch", NULL };
static const char *const confine_calls[] = {
	"chdir", "fchdir", "prctl", "seccomp", "setrlimit", "prlimit64", "landlock_create_ruleset",
	"landlock_add_rule", "landlock_restrict_self", NULL,
};
#ifdef SB_SANITIZER
#include <sanitizer/common_interface_defs.h>

/* A sanitizer report is symbolised by llvm-symbolizer, a program the runtime
 * starts the first time it needs it: after the filter that execve would kill
 * the child and the report would name no functions (and leak suppressions,
 * which match function names, would not match). Start it now, while the
 * role may still execute programs; the roles' children share it. */
static void sanitizer_symbolizer_start(void)
{
	/* not in a chroot: the program is not there (nor /proc, for LeakSanitizer),
	 * and starting it costs each role ~0.4 s of CPU */
	if (access("/proc/self/maps", R_OK) != 0)
		return;
	/* it inherits a blocked SIGTERM through execve: a stop (SIGTERM to the
	 * role's process group) leaves it for the role's exit-time leak report */
	sigset_t term, old;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, &old);
	char where[128];
	__sanitizer_symbolize_pc(__builtin_return_address(0), "%p %F", where, sizeof where);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/* The sanitizer runtimes: /proc/self/maps for a report, LeakSanitizer's
 * tracer (a clone that ptraces the process) at exit, stat when it looks for
 * its symbolizer on PATH (in a chroot, where none was started). Not execve:
 * the symbolizer is started before the filter, or not at all. */
static const char *const sanitizer_calls[] = {
	"openat", "open", "readlink", "readlinkat", "getdents", "getdents64", "clone", "clone3", "ptrace",
	"wait4", "waitid", "prctl", "kill", "tgkill", "tkill", "sched_setaffinity", "access",
	"faccessat", "pipe", "set_tid_address", "prlimit64",
	"setrlimit", "statfs", "process_vm_readv", "stat", "lstat", NULL,
};
#endif

/* Argument tests, spelled out whole (libseccomp's SCMP_An macros leave a
 * field to the compiler's zeroing, which -Wmissing-field-initializers minds). */
static struct scmp_arg_cmp eq(unsigned arg, scmp_datum_t v)
{
	return (struct scmp_arg_cmp){ .arg = arg, .op = SCMP_CMP_EQ, .datum_a = v, .datum_b = 0 };
}

static struct scmp_arg_cmp masked(unsigned arg, scmp_datum_t mask, scmp_datum_t v)
{
	return (struct scmp_arg_cmp){ .arg = arg, .op = SCMP_CMP_MASKED_EQ, .datum_a = mask,
				      .datum_b = v };
}

static void add_calls(scmp_filter_ctx ctx, const char *role, const char *const *names)
{
	for (; *names; names++) {
		int nr = seccomp_syscall_resolve_name(*names);
		if (nr == __NR_SCMP_ERROR)
			continue;	/* older than libseccomp knows: nobody calls it */
		int r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (r < 0 && r != -EEXIST)
			fatal("%s: seccomp rule for %s: %s", role, *names, strerror(-r));
	}
}

static void add_rule(scmp_filter_ctx ctx, const char *role, int nr, uint32_t action,
		     unsigned n, const struct scmp_arg_cmp *cmp)
{
	int r = seccomp_rule_add_array(ctx, action, nr, n, cmp);
	if (r < 0 && r != -EEXIST)
		fatal("%s: seccomp rule %d: %s", role, nr, strerror(-r));
}

/* socket(2) only for the families the role uses. Every role may make a
 * datagram Unix socket: glibc's syslog() reconnects to /dev/log with one, and
 * it cannot reach the suite's sockets, which are all stream sockets. */
static void add_socket_rules(scmp_filter_ctx ctx, const char *role, unsigned allow)
{
	int nr = SCMP_SYS(socket);
	struct scmp_arg_cmp dgram[] = { eq(0, AF_UNIX),
					masked(1, 0xf, SOCK_DGRAM) };
	if (allow & SB_UNIX) {
		struct scmp_arg_cmp unix_any = eq(0, AF_UNIX);
		add_rule(ctx, role, nr, SCMP_ACT_ALLOW, 1, &unix_any);
	} else {
		add_rule(ctx, role, nr, SCMP_ACT_ALLOW, 2, dgram);
	}
	if (allow & SB_INET) {
		struct scmp_arg_cmp v4 = eq(0, AF_INET), v6 = eq(0, AF_INET6);
		add_rule(ctx, role, nr, SCMP_ACT_ALLOW, 1, &v4);
		add_rule(ctx, role, nr, SCMP_ACT_ALLOW, 1, &v6);
	}
	add_calls(ctx, role, connect_calls);	/* only sockets it could make, or holds */
	if (allow & SB_INET)
		add_calls(ctx, role, inet_calls);
}

/* getrlimit is prlimit64 with no new limit; setting one needs SB_CONFINE. */
static void add_getrlimit_rule(scmp_filter_ctx ctx, const char *role)
{
	struct scmp_arg_cmp get = eq(2, 0);
	add_rule(ctx, role, SCMP_SYS(prlimit64), SCMP_ACT_ALLOW, 1, &get);
}

/* clone: threads only (CLONE_THREAD), or any with SB_FORK. clone3 cannot be
 * filtered by its flags (they are behind a pointer): it answers ENOSYS, and
 * glibc falls back to clone. */
static void add_clone_rules(scmp_filter_ctx ctx, const char *role, unsigned allow)
{
	if (allow & SB_FORK) {
		add_rule(ctx, role, SCMP_SYS(clone), SCMP_ACT_ALLOW, 0, NULL);
	} else if (allow & SB_THREADS) {
		struct scmp_arg_cmp t = masked(0, CLONE_THREAD, CLONE_THREAD);
		add_rule(ctx, role, SCMP_SYS(clone), SCMP_ACT_ALLOW, 1, &t);
	}
	if (allow & (SB_FORK | SB_THREADS))
		add_rule(ctx, role, SCMP_SYS(clone3), SCMP_ACT_ERRNO(ENOSYS), 0, NULL);
}

/* ioctl: FIONREAD (libevent sizes its reads with it) and TCGETS (isatty on
 * stderr); nothing else. */
static void add_ioctl_rules(scmp_filter_ctx ctx, const char *role)
{
	struct scmp_arg_cmp fionread = eq(1, FIONREAD);
	struct scmp_arg_cmp tcgets = eq(1, TCGETS);
	add_rule(ctx, role, SCMP_SYS(ioctl), SCMP_ACT_ALLOW, 1, &fionread);
	add_rule(ctx, role, SCMP_SYS(ioctl), SCMP_ACT_ERRNO(ENOTTY), 1, &tcgets);
}

/* openat read-only: O_ACCMODE == O_RDONLY and no O_CREAT/O_TRUNC. */
static void add_read_open_rules(scmp_filter_ctx ctx, const char *role)
{
	struct scmp_arg_cmp ro = masked(2, O_ACCMODE | O_CREAT | O_TRUNC, O_RDONLY);
	add_rule(ctx, role, SCMP_SYS(openat), SCMP_ACT_ALLOW, 1, &ro);
}

/* kill/tgkill to itself (abort, raise) without SB_FORK. */
static void add_self_signal_rules(scmp_filter_ctx ctx, const char *role)
{
	struct scmp_arg_cmp me = eq(0, (scmp_datum_t)getpid());
	add_rule(ctx, role, SCMP_SYS(tgkill), SCMP_ACT_ALLOW, 1, &me);
	add_rule(ctx, role, SCMP_SYS(kill), SCMP_ACT_ALLOW, 1, &me);
}

void sandbox_seccomp(const char *role, unsigned allow)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		fatal("%s: seccomp_init failed", role);
	/* every thread gets the filter, even one started before it */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1) < 0)
		fatal("%s: seccomp TSYNC not supported", role);
	add_calls(ctx, role, base_calls);
	add_ioctl_rules(ctx, role);
	add_getrlimit_rule(ctx, role);
	add_socket_rules(ctx, role, allow);
	add_clone_rules(ctx, role, allow);
	if (allow & SB_THREADS)
		add_calls(ctx, role, thread_calls);
	if (allow & SB_FORK)
		add_calls(ctx, role, fork_calls);
	else
		add_self_signal_rules(ctx, role);
	if (allow & SB_ACCEPT)
		add_calls(ctx, role, accept_calls);
	if (allow & SB_BIND)
		add_calls(ctx, role, bind_calls);
	if (allow & SB_FILES)
		add_calls(ctx, role, file_calls);
	else if (allow & SB_FILES_READ) {
		add_calls(ctx, role, read_calls);
		add_read_open_rules(ctx, role);
	}
	if (allow & SB_INOTIFY)
		add_calls(ctx, role, inotify_calls);
	if (allow & SB_CONFINE)
		add_calls(ctx, role, confine_calls);
#ifdef SB_SANITIZER
	add_calls(ctx, role, sanitizer_calls);
#endif
	int r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0)
		fatal("%s: cannot load the seccomp filter: %s", role, strerror(-r));
}

int sandbox_session_limits(void)
{
	struct rlimit zero = { 0, 0 };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	setrlimit(RLIMIT_CORE, &zero);
	if (geteuid() != 0)
		setrlimit(RLIMIT_NPROC, &zero);	/* fork fails for an unprivileged account */
	return 0;
}

void sandbox_enter(const char *role, unsigned allow, const struct sb_path *paths, size_t npaths)
{
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal_errno("%s: no_new_privs", role);
#ifdef SB_SANITIZER
	sanitizer_symbolizer_start();
#endif
	struct ll_rule rules[8];
	if (npaths > ARRAY_LEN(rules))
		fatal("%s: too many sandbox paths", role);
	for (size_t i = 0; i < npaths; i++)
		rules[i] = (struct ll_rule){ .path = paths[i].path, .fd = -1,
					     .access = paths[i].write ? LL_READ | LL_WRITE | LL_DIRS
								      : LL_READ };
	int abi = landlock_confine(rules, npaths, (allow & SB_INET) ? LL_TCP : 0);
	if (abi < 0)
		fatal_errno("%s: landlock", role);
	sandbox_seccomp(role, allow);
	log_debug("%s: sandboxed (seccomp, landlock ABI %d)", role, abi);
}

void sandbox_note_exit(const char *role, int pid, int st)
{
	if (!WIFSIGNALED(st) || WTERMSIG(st) == SIGTERM)
		return;
	char how[96];
	sandbox_describe_exit(st, how, sizeof how);
	log_warn("%s: pid=%d %s", role, pid, how);
}

void sandbox_describe_exit(int st, char *buf, size_t len)
{
	if (WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS)
		snprintf(buf, len, "killed by SIGSYS (a system call outside its seccomp allow-list)");
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(st));
	else
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(st));
}
