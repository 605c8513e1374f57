/* sandbox.h — what a long-running role may still do once it has opened what it
 * needs: a seccomp-bpf allow-list of system calls (libseccomp) and Landlock
 * rules for the files it may touch, both kept by every process it forks.
 *
 * A role calls sandbox_enter() after privdrop() and before it reads untrusted
 * input. Anything outside the allow-list kills the whole process
 * (SECCOMP_RET_KILL_PROCESS: SIGSYS); its supervisor (the master, or the mail
 * role for a session process) logs that and, for a daemon, restarts it.
 * docs/ARCHITECTURE.md ("Sandboxing") lists each role's allow-list and why.
 *
 * Sanitizer builds (ASan/UBSan/LSan) allow what their runtime needs on top:
 * reading /proc for reports, and LeakSanitizer's tracer at exit (clone,
 * ptrace, wait). Those builds are for tests; the lists of a normal build are
 * the product. */
#ifndef TERN_SANDBOX_H
#define TERN_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

/* Groups of system calls beyond the base every role has (memory, time,
 * signals, I/O on descriptors it holds, poll/epoll, futexes, getrandom,
 * sendmsg/recvmsg with descriptors, exit). */
enum sb_allow {
	SB_THREADS	= 1 << 0,	/* start threads (clone with CLONE_THREAD only) */
	SB_FORK		= 1 << 1,	/* fork session processes, reap and signal them */
	SB_ACCEPT	= 1 << 2,	/* accept on listening sockets it holds */
	SB_UNIX		= 1 << 3,	/* connect to the suite's Unix sockets */
	SB_INET		= 1 << 4,	/* IPv4/IPv6 sockets: DNS, SMTP to other hosts */
	SB_FILES_READ	= 1 << 5,	/* open files read-only, list directories */
	SB_FILES	= 1 << 6,	/* create, write, rename, link, unlink, mkdir */
	SB_INOTIFY	= 1 << 7,	/* watch directories (IMAP IDLE) */
	SB_CONFINE	= 1 << 8,	/* its children confine themselves further:
					 * chdir, Landlock, rlimits, prctl, seccomp */
	SB_BIND		= 1 << 9,	/* bind and listen on a Unix socket (generations) */
};

/* A path a role may still reach through the file system (Landlock). */
struct sb_path {
	const char *path;
	bool write;		/* create, write, rename, remove beneath it */
};

/* no_new_privs, then Landlock (when the kernel has it; paths may be NULL: no
 * file access at all, and no TCP unless SB_INET), then the seccomp filter for
 * role with the groups in allow. Fatal on failure: a role never runs
 * unconfined by accident. */
void sandbox_enter(const char *role, unsigned allow, const struct sb_path *paths, size_t npaths);

/* A session process forked by a mail role, before its Landlock: no_new_privs,
 * no core dumps, no new processes (RLIMIT_NPROC 0, when not root). 0 or -1. */
int sandbox_session_limits(void);

/* Only the seccomp part (a session process that set up Landlock itself). */
void sandbox_seccomp(const char *role, unsigned allow);

/* "exited with status N", "killed by signal N", or for SIGSYS "killed by SIGSYS
 * (a system call outside its seccomp allow-list)", for supervisors' logs. */
void sandbox_describe_exit(int wait_status, char *buf, size_t len);

/* A supervisor reaped pid of role: log it if a signal other than its SIGTERM
 * ended it (SIGSYS: the sandbox stopped it). */
void sandbox_note_exit(const char *role, int pid, int wait_status);

#endif
