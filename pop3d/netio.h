/* netio.h — the session process's client connection: blocking-style I/O on
 * a non-blocking socket with poll timeouts, a bounded line reader and a
 * write buffer flushed only when more input is needed (so pipelined commands
 * get their replies in one write, RFC 2449 PIPELINING). */
#ifndef TERN_POP3D_NETIO_H
#define TERN_POP3D_NETIO_H

#include <stdbool.h>
#include <stddef.h>

#define NETIO_OUT_MAX (128 * 1024)

enum netio_status { NET_LINE, NET_TOOLONG, NET_EOF, NET_TIMEOUT, NET_ERROR };

struct netio {
	int fd;
	int timeout_ms;
	char *in;
	size_t in_start, in_end, in_cap;
	bool skipping;		/* discarding the rest of an overlong line */
	char *out;
	size_t out_len;
	bool failed;		/* a write failed: drop everything */
	unsigned long long bytes_out;
};

void netio_init(struct netio *n, int fd, unsigned timeout_s, const void *pending, size_t npending);
void netio_free(struct netio *n);
/* Next line (without CRLF, NUL-terminated, in *line valid until the next
 * call); max counts the line ending. *has_nul set when it contains NUL. */
enum netio_status netio_line(struct netio *n, size_t max, char **line, bool *has_nul);
void netio_write(struct netio *n, const void *p, size_t len);
void netio_printf(struct netio *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Send everything buffered; 0 or -1. */
int netio_flush(struct netio *n);

#endif
