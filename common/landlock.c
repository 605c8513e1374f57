/* landlock.c — Landlock rule sets (see landlock.h). */
#include "common/landlock.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

static uint64_t fs_handled(int abi)
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

static uint64_t fs_granted(unsigned access)
{
	uint64_t r = 0;
	if (access & LL_READ)
		r |= LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR;
	if (access & LL_WRITE)
		r |= LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_REMOVE_FILE |
		     LANDLOCK_ACCESS_FS_MAKE_REG | LL_FS_REFER | LL_FS_TRUNCATE;
	if (access & LL_DIRS)
		r |= LANDLOCK_ACCESS_FS_MAKE_DIR | LANDLOCK_ACCESS_FS_REMOVE_DIR;
	return r;
}

static int add_rule(int rs, const struct ll_rule *rule, uint64_t handled)
{
	int fd = rule->path ? open(rule->path, O_PATH | O_CLOEXEC) : rule->fd;
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	struct ll_path_beneath pb = { .allowed_access = fs_granted(rule->access) & handled,
				      .parent_fd = fd };
	struct stat st;
	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))	/* a file: rights on it alone */
		pb.allowed_access &= LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_WRITE_FILE |
				     LL_FS_TRUNCATE;
	int r = (int)syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
	if (rule->path)
		close(fd);
	return r;
}

#ifdef SB_SANITIZER
/* The suppressions file LSAN_OPTIONS names (an absolute path), into buf. */
static int lsan_suppressions(char *buf, size_t len)
{
	const char *opts = getenv("LSAN_OPTIONS");
	const char *p = opts ? strstr(opts, "suppressions=") : NULL;
	if (!p)
		return 0;
	p += strlen("suppressions=");
	if (*p == '"' || *p == '\'')
		p++;
	size_t n = strcspn(p, ":\"' ");
	if (n == 0 || n >= len || *p != '/')
		return 0;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return 1;
}

/* The sanitizer runtime reads /proc (reports, LeakSanitizer's thread list at
 * exit) and, when it first finds a leak, its suppressions file: without it
 * the process dies at exit with "failed to read suppressions file". */
static int add_sanitizer_rules(int rs, uint64_t handled)
{
	const struct ll_rule proc = { .path = "/proc", .fd = -1, .access = LL_READ };
	int r = add_rule(rs, &proc, handled);
	char supp[PATH_MAX];
	if (r == 0 && lsan_suppressions(supp, sizeof supp)) {
		const struct ll_rule file = { .path = supp, .fd = -1, .access = LL_READ };
		r = add_rule(rs, &file, handled);
	}
	return r;
}
#endif

static int ruleset(int abi, unsigned flags)
{
	struct ll_ruleset_attr attr = { .handled_access_fs = fs_handled(abi) };
	size_t size = sizeof attr.handled_access_fs;
	if (abi >= 4) {
		if (!(flags & LL_TCP))
			attr.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
		size += sizeof attr.handled_access_net;
	}
	if (abi >= 6) {
		attr.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		size += sizeof attr.scoped;
	}
	return (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
}

int landlock_confine(const struct ll_rule *rules, size_t n, unsigned flags)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0)
		return (errno == ENOSYS || errno == EOPNOTSUPP) ? 0 : -1;
	int rs = ruleset((int)abi, flags);
	if (rs < 0)
		return -1;
	int r = 0;
	for (size_t i = 0; i < n && r == 0; i++)
		r = add_rule(rs, &rules[i], fs_handled((int)abi));
#ifdef SB_SANITIZER
	if (r == 0)
		r = add_sanitizer_rules(rs, fs_handled((int)abi));
#endif
	if (r == 0)
		r = (int)syscall(SYS_landlock_restrict_self, rs, 0);
	int e = errno;
	close(rs);
	errno = e;
	return r < 0 ? -1 : (int)abi;
}
