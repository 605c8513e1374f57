/* util.h — small helpers every tern program uses: checked allocation,
 * bounded string copies, fatal errors. */
#ifndef TERN_UTIL_H
#define TERN_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* For memory that may hold a credential (a password on its way to authd):
 * realloc leaves the old block's bytes in freed memory, so these move to a
 * new block and wipe the old one (explicit_bzero) before freeing it.
 * xrealloc_wipe: p had old bytes of which keep are in use and copied;
 * free_wipe: p had n bytes (NULL is fine). */
void *xrealloc_wipe(void *p, size_t old, size_t keep, size_t n);
void free_wipe(void *p, size_t n);
/* Test hook: called with each block free_wipe has wiped, just before it is
 * freed (the unit test checks that nothing is left in it). NULL otherwise. */
extern void (*free_wipe_observer)(const void *p, size_t n);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Copy with truncation, always NUL-terminated; returns strlen(src). */
size_t strlcpy_t(char *dst, const char *src, size_t size);

/* Environment failure (out of memory, broken invariant from outside): log and exit 1. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Like fatal, appending strerror(errno). */
void fatal_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Lower-case ASCII in place. */
void str_lower(char *s);
/* Trim ASCII whitespace at both ends in place; returns s advanced. */
char *str_trim(char *s);

/* Parse a decimal non-negative integer with an upper bound; false on junk/overflow. */
bool parse_u64(const char *s, uint64_t max, uint64_t *out);

/* Write all bytes / read exactly n bytes on a blocking fd; -1 on error or EOF. */
int write_all(int fd, const void *buf, size_t n);
int read_full(int fd, void *buf, size_t n);

/* Monotonic milliseconds. */
uint64_t now_ms(void);

/* Set O_NONBLOCK / FD_CLOEXEC. */
int fd_nonblock(int fd);
int fd_cloexec(int fd);

/* A TCP peer that vanishes without a FIN or reset (a phone losing its network)
 * makes the socket fail with ETIMEDOUT after about `seconds`: keepalive probes
 * while idle, TCP_USER_TIMEOUT for unacknowledged data. 0 or -1. */
int fd_dead_peer_after(int fd, unsigned seconds);

/* mkdir -p with mode; 0 or -1 (errno set). */
int mkdir_p(const char *path, unsigned mode);

/* fsync a directory by path. */
int fsync_dir(const char *path);

/* The first line of a small file holding a secret (key: the setting naming
 * it, for why), malloc'd, or NULL with why. */
char *secret_file_read(const char *path, const char *key, char *why, size_t whylen);

#endif
