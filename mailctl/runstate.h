/* runstate.h — is an instance running? The master holds an exclusive flock on
 * RUN/master.pid for its whole life, so a stale pid file (after a crash or
 * kill -9) never looks like a running master. Plus /proc helpers. */
#ifndef TERN_MAILCTL_RUNSTATE_H
#define TERN_MAILCTL_RUNSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define MASTER_PIDFILE	"master.pid"
#define MASTER_SOCKET	"master.sock"

/* Lock RUN/master.pid for a new master: the fd (keep it open), or -1 with
 * *other set to the running master's pid (or 0 and errno on other errors). */
int pidfile_lock(const char *run_dir, pid_t *other);
/* Record pid in the locked file. */
int pidfile_write(int fd, pid_t pid);
/* Pid of the running master of the instance, or 0. */
pid_t master_running(const char *run_dir);

/* The process exists and is not a zombie (/proc/PID/stat state). */
bool pid_alive(pid_t pid);
/* Wait (bounded) until pid is gone or a zombie; true if it went. */
bool pid_wait_gone(pid_t pid, int timeout_ms);
/* Real uid of a process from /proc/PID/status, or -1. */
long proc_uid(pid_t pid);
/* True if every uid, gid and supplementary group of the process (/proc/PID/status)
 * is uid / gid: it kept nothing of the identity it started with. */
bool proc_ids_are(pid_t pid, long uid, long gid);
/* Name of the account of uid into buf (or the number). */
void uid_name(long uid, char *buf, size_t len);

/* Send sig to every process whose parent is ppid; returns how many. */
int kill_children_of(pid_t ppid, int sig);

/* Kill (SIGTERM, then SIGKILL) every tern-* process started with `-c dir`
 * (left over after a master was killed); returns how many there were. */
int kill_instance_leftovers(const char *dir);

#endif
