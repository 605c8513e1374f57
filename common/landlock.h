/* landlock.h — confining a process to the files it may touch (Linux Landlock).
 *
 * Every file-system access right the kernel knows is handled; only what the
 * rules grant beneath their directories stays possible (nothing is ever
 * executed). From ABI 4 TCP bind and connect are refused unless LL_TCP, from
 * ABI 5 device ioctls, from ABI 6 signals to processes outside the domain and
 * abstract Unix sockets. The restriction applies to the calling thread and
 * what it starts later: call it before starting threads. Kernels without
 * Landlock leave the account's permissions as the boundary (ABI 0). */
#ifndef TERN_LANDLOCK_H
#define TERN_LANDLOCK_H

#include <stddef.h>

/* A sanitizer build (ASan/UBSan/LSan): its runtime reads /proc (reports,
 * LeakSanitizer's thread list at exit), so every rule set of such a build
 * also grants /proc read-only, and sandbox.c allows the runtime's calls. */
#if defined(__SANITIZE_ADDRESS__)
#define SB_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define SB_SANITIZER 1
#endif
#endif

enum ll_access {
	LL_READ = 1 << 0,	/* read files, list directories */
	LL_WRITE = 1 << 1,	/* create, write, truncate, rename (between its
				 * directories), remove files */
	LL_DIRS = 1 << 2,	/* make and remove directories */
};

struct ll_rule {
	const char *path;	/* opened O_PATH, or */
	int fd;			/* a directory it holds (path NULL) */
	unsigned access;	/* enum ll_access */
};

enum ll_flags {
	LL_TCP = 1 << 0,	/* leave TCP bind/connect alone (DNS over TCP, SMTP out) */
};

/* The Landlock ABI enforced (>= 1), 0 if the kernel has none, -1 if it could
 * not be applied (errno). A rule whose path does not exist is skipped. */
int landlock_confine(const struct ll_rule *rules, size_t n, unsigned flags);

#endif
