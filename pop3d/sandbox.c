/* sandbox.c — Landlock and resource limits for session processes. */
#include "pop3d/sandbox.h"
#include "common/log.h"

#include <errno.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Rights newer than the installed kernel headers may know. */
#define LL_FS_REFER	(1ULL << 13)	/* ABI 2 */
#define LL_FS_TRUNCATE	(1ULL << 14)	/* ABI 3 */
#define LL_FS_IOCTL_DEV	(1ULL << 15)	/* ABI 5 */
#define LL_NET_BIND_TCP	(1ULL << 0)	/* ABI 4 */
#define LL_NET_CONNECT_TCP (1ULL << 1)
#define LL_SCOPE_ABSTRACT_UNIX (1ULL << 0)	/* ABI 6 */
#define LL_SCOPE_SIGNAL	(1ULL << 1)

/* struct landlock_ruleset_attr as of ABI 6; the size passed says which
 * fields the kernel reads. */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

struct ll_path_beneath {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

static uint64_t fs_rights(int abi)
{
	uint64_t all = (1ULL << 13) - 1;	/* ABI 1: EXECUTE .. MAKE_SYM */
	if (abi >= 2)
		all |= LL_FS_REFER;
	if (abi >= 3)
		all |= LL_FS_TRUNCATE;
	if (abi >= 5)
		all |= LL_FS_IOCTL_DEV;
	return all;
}

static int apply_landlock(int dirfd, int abi)
{
	struct ll_ruleset_attr attr = { .handled_access_fs = fs_rights(abi) };
	size_t size = sizeof attr.handled_access_fs;
	if (abi >= 4) {
		attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
		size += sizeof attr.handled_access_net;
	}
	if (abi >= 6) {
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		size += sizeof attr.scoped;
	}
	int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
	if (rs < 0)
		return -1;
	/* Inside the Maildir: read and list, create and write files, rename
	 * new/ to cur/ (REFER), remove files. No directories are made or
	 * removed, nothing is executed. */
	struct ll_path_beneath pb = {
		.allowed_access = (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
				   LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
				   LANDLOCK_ACCESS_FS_MAKE_REG | LL_FS_REFER | LL_FS_TRUNCATE) &
				  attr.handled_access_fs,
		.parent_fd = dirfd,
	};
	int r = (int)syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
	if (r == 0)
		r = (int)syscall(SYS_landlock_restrict_self, rs, 0);
	close(rs);
	return r;
}

int sandbox_maildir(int dirfd)
{
	struct rlimit zero = { 0, 0 };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	setrlimit(RLIMIT_CORE, &zero);
	/* No new processes: fork fails for an unprivileged account. */
	if (geteuid() != 0)
		setrlimit(RLIMIT_NPROC, &zero);
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0)
		return (errno == ENOSYS || errno == EOPNOTSUPP) ? 0 : -1;
	if (apply_landlock(dirfd, (int)abi) < 0)
		return -1;
	return (int)abi;
}
