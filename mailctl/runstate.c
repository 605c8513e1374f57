/* runstate.c — pid file lock and /proc inspection. */
#include "mailctl/runstate.h"
#include "common/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static pid_t read_pid(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	uint64_t v;
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return parse_u64(str_trim(buf), 1 << 22, &v) ? (pid_t)v : 0;
}

int pidfile_lock(const char *run_dir, pid_t *other)
{
	char *path = xasprintf("%s/%s", run_dir, MASTER_PIDFILE);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	free(path);
	*other = 0;
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		if (e == EWOULDBLOCK)
			*other = read_pid(fd);
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int pidfile_write(int fd, pid_t pid)
{
	char buf[32];
	int n = snprintf(buf, sizeof buf, "%d\n", (int)pid);
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		return -1;
	return 0;
}

pid_t master_running(const char *run_dir)
{
	char *path = xasprintf("%s/%s", run_dir, MASTER_PIDFILE);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return 0;
	pid_t pid = 0;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK)
		pid = read_pid(fd);
	close(fd);
	return pid;
}

bool pid_alive(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "pid (comm) S ...": comm may contain anything, so use the last ')'. */
	char *rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

bool pid_wait_gone(pid_t pid, int timeout_ms)
{
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	while (pid_alive(pid)) {
		if (now_ms() >= deadline)
			return false;
		usleep(20000);
	}
	return true;
}

long proc_uid(pid_t pid)
{
	char path[64], line[256];
	long uid = -1;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "Uid:", 4)) {
			uid = strtol(line + 4, NULL, 10);
			break;
		}
	fclose(f);
	return uid;
}

/* All numbers on a "Key:" line of /proc/PID/status equal want (an empty list too). */
static bool all_equal(const char *rest, long want)
{
	char *end;
	for (;;) {
		long v = strtol(rest, &end, 10);
		if (end == rest)
			return true;
		if (v != want)
			return false;
		rest = end;
	}
}

bool proc_ids_are(pid_t pid, long uid, long gid)
{
	char path[64], line[1024];
	int seen = 0;
	bool ok = true;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof line, f)) {
		if (!strncmp(line, "Uid:", 4) || !strncmp(line, "Gid:", 4) ||
		    !strncmp(line, "Groups:", 7)) {
			seen++;
			ok = ok && all_equal(strchr(line, ':') + 1, line[0] == 'U' ? uid : gid);
		}
	}
	fclose(f);
	return ok && seen == 3;
}

void uid_name(long uid, char *buf, size_t len)
{
	struct passwd *pw = uid >= 0 ? getpwuid((uid_t)uid) : NULL;
	if (pw)
		strlcpy_t(buf, pw->pw_name, len);
	else
		snprintf(buf, len, "%ld", uid);
}

static pid_t parent_of(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *rp = strrchr(buf, ')');
	int ppid;
	if (!rp || sscanf(rp + 1, " %*c %d", &ppid) != 1)
		return -1;
	return (pid_t)ppid;
}

int kill_children_of(pid_t ppid, int sig)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int count = 0;
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		pid_t pid = (pid_t)atoi(e->d_name);
		if (parent_of(pid) == ppid && pid_alive(pid)) {
			kill(pid, sig);
			count++;
		}
	}
	closedir(d);
	return count;
}

/* True if /proc/PID/cmdline is "…/tern-X … -c dir …". */
static bool is_instance_proc(pid_t pid, const char *dir)
{
	char path[64], buf[8192];
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	const char *base = strrchr(buf, '/');
	base = base ? base + 1 : buf;
	if (strncmp(base, "tern-", 5))
		return false;
	for (const char *a = buf; a < buf + n; a += strlen(a) + 1)
		if (!strcmp(a, "-c") && a + 3 < buf + n && !strcmp(a + 3, dir))
			return true;
	return false;
}

static int signal_leftovers(const char *dir, int sig)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int count = 0;
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		pid_t pid = (pid_t)atoi(e->d_name);
		if (pid != getpid() && pid_alive(pid) && is_instance_proc(pid, dir)) {
			kill(pid, sig);
			count++;
		}
	}
	closedir(d);
	return count;
}

int kill_instance_leftovers(const char *dir)
{
	int n = signal_leftovers(dir, SIGTERM);
	for (int i = 0; n && i < 100 && signal_leftovers(dir, 0); i++)
		usleep(50000);
	if (n)
		signal_leftovers(dir, SIGKILL);
	for (int i = 0; n && i < 100 && signal_leftovers(dir, 0); i++)
		usleep(50000);
	return n;
}
