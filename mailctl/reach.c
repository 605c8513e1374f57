/* reach.c — check, as each daemon account, that it can reach its directories. */
#include "mailctl/reach.h"
#include "common/privdrop.h"
#include "common/util.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The roles that run without a chroot (mailctl/procs.c) open these by path
 * after dropping root: their data and the sockets in run_dir. Chrooted roles
 * enter their chroot as root and need nothing above it. */
static const struct {
	const char *account;
	const char *path_key;
} needs[] = {
	{ ACCT_QUEUED, "spool_dir" },	{ ACCT_QUEUED, "run_dir" },
	{ ACCT_MAILSTORE, "mail_dir" }, { ACCT_MAILSTORE, "run_dir" },
};

/* In a child running as pw: the first directory on the way to path (path
 * included) it may not search, written to fd; exit 0 when there is none. */
static void probe(const struct passwd *pw, const char *path, int fd)
{
	gid_t groups[64];
	int ng = ARRAY_LEN(groups);
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &ng) < 0)
		ng = 0;
	if (setgroups((size_t)ng, groups) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
		_exit(2);
	char *p = xstrdup(path);
	for (char *s = p + 1;; s++) {
		char c = *s;
		if (c != '/' && c != '\0')
			continue;
		*s = '\0';
		if (access(p, X_OK) < 0 && errno == EACCES) {
			(void)!write(fd, p, strlen(p));
			_exit(1);
		}
		if (c == '\0')
			break;
		*s = c;
	}
	_exit(0);
}

/* The directory account pw cannot search on the way to path, or NULL. */
static char *blocked_at(const struct passwd *pw, const char *path)
{
	char buf[4096];
	int pfd[2];
	if (pipe(pfd) < 0)
		return NULL;
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		probe(pw, path, pfd[1]);
	}
	close(pfd[1]);
	ssize_t n = pid > 0 ? read(pfd[0], buf, sizeof buf - 1) : -1;
	close(pfd[0]);
	int st = 0;
	if (pid > 0)
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
	if (pid <= 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 1 || n <= 0)
		return NULL;
	buf[n] = '\0';
	return xstrdup(buf);
}

static void report(const struct instance *in, const char *account, const char *key,
		   const char *path, const char *dir, struct cfg_errors *errs)
{
	struct stat st;
	char owner[64] = "?";
	if (stat(dir, &st) == 0) {
		struct passwd *o = getpwuid(st.st_uid);
		snprintf(owner, sizeof owner, "%s", o ? o->pw_name : "?");
	}
	cfg_error(errs, "%s: account %s cannot reach %s (%s): %s (mode %04o, owner %s) does not "
		  "let it through; allow it (chmod o+x %s) or put the instance under a "
		  "directory every account may search", in->conf.path, account, path, key, dir,
		  (unsigned)(st.st_mode & 07777), owner, dir);
}

int reach_check(const struct instance *in, struct cfg_errors *errs)
{
	int before = errs->count;
	if (!running_as_root())
		return 0;
	for (size_t i = 0; i < ARRAY_LEN(needs); i++) {
		struct passwd *pw = getpwnam(needs[i].account);
		if (!pw)
			continue;	/* init creates it; start refuses without it */
		char *path = cfg_path(&in->conf, needs[i].path_key);
		char *dir = blocked_at(pw, path);
		if (dir)
			report(in, needs[i].account, needs[i].path_key, path, dir, errs);
		free(dir);
		free(path);
	}
	return errs->count - before;
}
