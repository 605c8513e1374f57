/* sandbox.c — Landlock and resource limits for session processes. */
#include "pop3d/sandbox.h"
#include "common/landlock.h"
#include "common/sandbox.h"

int sandbox_maildir(int dirfd)
{
	if (sandbox_session_limits() < 0)
		return -1;
	/* Inside the Maildir: read and list, create and write files, rename
	 * new/ to cur/, remove files. No directories are made or removed,
	 * nothing is executed, no TCP, no signals outside itself. */
	const struct ll_rule maildir = { .fd = dirfd, .access = LL_READ | LL_WRITE };
	return landlock_confine(&maildir, 1, 0);
}
