/* peer.h — an asynchronous request/reply client over one ipc connection
 * (common/ipc.h) driven by libevent: smtpd's client of queue.sock (authd has
 * its own, common/auth_client.h). Requests carry an id; replies are matched by id, so
 * a server may answer out of order. The connection is opened on first use and
 * re-opened after the server restarts; requests in flight when it breaks are
 * answered with reply == NULL (the caller replies 4xx), and so are requests
 * not answered within the timeout. */
#ifndef TERN_SMTPD_PEER_H
#define TERN_SMTPD_PEER_H

#include "common/ipc.h"

struct event_base;
struct peer;

/* reply is NULL when the server could not be reached. When the owner was
 * cancelled (peer_cancel), the callback still runs with owner == NULL so it can
 * release what the reply carries (for example abort a queue file). */
typedef void (*peer_cb)(void *owner, struct ipc_msg *reply);

/* timeout_ms: how long a request may wait for its reply. */
struct peer *peer_new(struct event_base *base, const char *path, const char *name, int timeout_ms);
/* Send req (taken over, also its fd). cb runs later, never from within this call. */
void peer_request(struct peer *p, struct ipc_msg *req, peer_cb cb, void *owner);
/* Send a message that expects no reply. */
void peer_send(struct peer *p, struct ipc_msg *msg);
/* Forget owner: its pending callbacks will run with owner == NULL. */
void peer_cancel(struct peer *p, void *owner);
/* Next request id (for messages built before peer_request). */
uint32_t peer_next_id(struct peer *p);
void peer_free(struct peer *p);

#endif
