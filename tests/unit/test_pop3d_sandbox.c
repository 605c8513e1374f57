/* Unit tests: the session sandbox. A child process confines itself to a
 * Maildir and then tries what a session may and may not do. */
#include "pop3d/sandbox.h"
#include "tests/unit/check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Bits of the child's exit status: what worked. */
enum {
	R_CONFINED = 1 << 0,	/* Landlock applied (ABI > 0) */
	R_READ_IN = 1 << 1,	/* read a message inside */
	R_RENAME = 1 << 2,	/* new/ -> cur/ */
	R_CREATE = 1 << 3,	/* lock file created inside */
	R_UNLINK = 1 << 4,
	R_READ_OUT = 1 << 5,	/* read a file outside: must fail when confined */
	R_WRITE_OUT = 1 << 6,	/* create a file outside: must fail */
	R_MKDIR = 1 << 7,	/* make a directory inside: not needed, refused */
};

static int child(const char *md, const char *outside)
{
	int dirfd = open(md, O_RDONLY | O_DIRECTORY);
	int abi = sandbox_maildir(dirfd);
	int r = 0;
	if (abi < 0)
		return 255;
	if (abi > 0)
		r |= R_CONFINED;
	int fd = openat(dirfd, "new/m1", O_RDONLY);
	char c;
	if (fd >= 0 && read(fd, &c, 1) == 1)
		r |= R_READ_IN;
	if (fd >= 0)
		close(fd);
	if (renameat(dirfd, "new/m1", dirfd, "cur/m1:2,") == 0)
		r |= R_RENAME;
	fd = openat(dirfd, "tern-pop3.lock", O_RDWR | O_CREAT, 0600);
	if (fd >= 0) {
		r |= R_CREATE;
		close(fd);
	}
	if (unlinkat(dirfd, "cur/m1:2,", 0) == 0)
		r |= R_UNLINK;
	fd = open(outside, O_RDONLY);
	if (fd >= 0) {
		r |= R_READ_OUT;
		close(fd);
	}
	char path[512];
	snprintf(path, sizeof path, "%s.new", outside);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	if (fd >= 0) {
		r |= R_WRITE_OUT;
		close(fd);
	}
	if (mkdirat(dirfd, ".Folder", 0700) == 0)
		r |= R_MKDIR;
	return r;
}

int main(void)
{
	char md[400], outside[400], path[512];
	snprintf(md, sizeof md, "%s/maildir", check_tmpdir());
	snprintf(outside, sizeof outside, "%s/secret", check_tmpdir());
	mkdir(md, 0700);
	for (const char *s = "cur\0new\0tmp\0"; *s; s += 4) {
		snprintf(path, sizeof path, "%s/%s", md, s);
		mkdir(path, 0700);
	}
	snprintf(path, sizeof path, "%s/new/m1", md);
	FILE *f = fopen(path, "w");
	fputs("Subject: x\n\nbody\n", f);
	fclose(f);
	f = fopen(outside, "w");
	fputs("not for sessions\n", f);
	fclose(f);

	pid_t pid = fork();
	if (pid == 0)
		_exit(child(md, outside));
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) != 255);
	int r = WEXITSTATUS(st);
	CHECK(r & R_READ_IN);
	CHECK(r & R_RENAME);
	CHECK(r & R_CREATE);
	CHECK(r & R_UNLINK);
	if (r & R_CONFINED) {
		CHECK(!(r & R_READ_OUT));
		CHECK(!(r & R_WRITE_OUT));
		CHECK(!(r & R_MKDIR));
	} else {
		printf("pop3d_sandbox: kernel without Landlock: only the positive cases checked\n");
	}
	return check_summary("pop3d_sandbox");
}
