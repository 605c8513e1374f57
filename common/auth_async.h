/* auth_async.h — a non-blocking client of the auth service (auth_proto.h) for
 * daemons built on libevent (queued routes recipients, deliverd expands them).
 * Requests are pipelined on one connection and matched to replies by ipc id.
 * The connection is made on demand; if it fails, times out or closes, every
 * waiting request gets its callback with reply == NULL (the caller defers). */
#ifndef TERN_AUTH_ASYNC_H
#define TERN_AUTH_ASYNC_H

#include "common/ipc.h"

struct event_base;
struct authq;

/* reply is NULL when the service could not answer; it is freed after the call. */
typedef void (*authq_cb)(void *arg, struct ipc_msg *reply);

struct authq *authq_new(struct event_base *base, const char *sock_path, int timeout_ms);
/* Send req (its id is assigned here; the message is consumed). The callback may
 * run before this returns when the service is unreachable. */
void authq_request(struct authq *a, struct ipc_msg *req, authq_cb cb, void *arg);

/* Convenience requests. */
void authq_rcpt(struct authq *a, const char *address, authq_cb cb, void *arg);
void authq_expand(struct authq *a, const char *address, authq_cb cb, void *arg);

#endif
