/* privdrop.c — chroot + identity change, in the fixed order. */
#include "common/privdrop.h"
#include "common/util.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>

bool running_as_root(void)
{
	return geteuid() == 0;
}

int account_ids(const char *name, uid_t *uid, gid_t *gid)
{
	if (!running_as_root()) {
		*uid = getuid();
		*gid = getgid();
		return 0;
	}
	struct passwd *pw = getpwnam(name);
	if (!pw)
		return -1;
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

void privdrop(const char *account, const char *chroot_dir)
{
	if (!running_as_root())
		return;
	uid_t uid;
	gid_t gid;
	if (account_ids(account, &uid, &gid) < 0)
		fatal("account %s does not exist; run `mailctl init` or `make install` as root to create it",
		      account);
	if (chroot_dir) {
		if (chroot(chroot_dir) < 0)
			fatal_errno("chroot %s", chroot_dir);
		if (chdir("/") < 0)
			fatal_errno("chdir / in chroot");
	}
	if (setgroups(1, &gid) < 0)
		fatal_errno("setgroups");
	if (setresgid(gid, gid, gid) < 0)
		fatal_errno("setresgid");
	if (setresuid(uid, uid, uid) < 0)
		fatal_errno("setresuid");
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		fatal("could regain root after dropping to %s", account);
}
