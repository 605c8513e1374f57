/* chan.h — one end of a channel (proto.h) in a libevent loop: typed frames
 * in and out over a Unix socket, with bodies inline or as a memfd. */
#ifndef TERN_HTTPD_CHAN_H
#define TERN_HTTPD_CHAN_H

#include "common/ipc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evbuffer;
struct chan;

/* m is valid during the call only; its fd (if any) may be taken. */
typedef void (*chan_msg_cb)(struct chan *c, struct ipc_msg *m, void *arg);
/* The peer went away or sent a malformed frame: the channel is closed.
 * Called from an event of its own, never from inside chan_send or on_msg.
 * on_msg may not chan_free the channel (its read loop is still using it). */
typedef void (*chan_close_cb)(struct chan *c, const char *why, void *arg);

struct chan *chan_new(struct event_base *base, int sock, chan_msg_cb on_msg,
		      chan_close_cb on_close, void *arg);
void chan_free(struct chan *c);
bool chan_open(const struct chan *c);
/* Queue m (freed) and write what the socket takes. */
void chan_send(struct chan *c, struct ipc_msg *m);
/* Write the whole backlog now, waiting up to timeout_ms: for a caller that
 * must know its frame left before it blocks on something else. 0 or -1. */
int chan_flush_wait(struct chan *c, int timeout_ms);
/* Bytes queued for the peer but not yet written. */
size_t chan_backlog(const struct chan *c);

/* Put a body of len bytes into m: inline when small, else as a memfd
 * (u64 length, then bytes or an attached fd). 0, or -1 (no memory). */
int chan_put_body(struct ipc_msg *m, const void *data, size_t len);
int chan_put_body_evbuffer(struct ipc_msg *m, struct evbuffer *b);
/* A body that is the whole file fd (len bytes; the fd is taken: attached
 * when large, read and closed when small). 0 or -1. */
int chan_put_body_fd(struct ipc_msg *m, int fd, size_t len);
/* Read the body chan_put_body wrote (at most max bytes), the frame's last
 * field: malloc'd copy, NUL-terminated, *len set; NULL if malformed (bytes
 * after the body included) or too long. */
char *chan_get_body(struct ipc_msg *m, size_t max, size_t *len);
/* The body's length and, when it came as a memfd, that fd (taken from m;
 * -1 for an inline body, whose bytes *inl points to). False, with no fd
 * taken, as chan_get_body. */
bool chan_get_body_ref(struct ipc_msg *m, size_t max, size_t *len, const void **inl, int *fd);

#endif
