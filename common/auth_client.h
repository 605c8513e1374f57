/* auth_client.h — clients of the auth service (RUN/auth.sock, auth_proto.h).
 *
 * Blocking client (mailctl, deliverd, queued): one request at a time, each
 * with a timeout; reconnects once by path if the service restarted.
 * Asynchronous client (smtpd, pop3d, imapd): libevent, many requests in flight,
 * each with a callback; when the connection drops every pending request is
 * answered with a TEMPFAIL result and the next request reconnects by path (so a
 * chrooted process passes the path as seen inside its chroot). */
#ifndef TERN_AUTH_CLIENT_H
#define TERN_AUTH_CLIENT_H

#include "common/auth_boxes.h"
#include "common/auth_proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ipc_msg;
struct event_base;


/* One reply, parsed and checked. `result` is the first u32 of the reply: an
 * auth_result (LOGIN), rcpt_kind (RCPT, ROUTE), 1/0 (SENDER, USER) or expand_status
 * (EXPAND). A transport failure gives the TEMPFAIL value of the request's kind
 * (for SENDER and USER: 0 with tempfail set). */
struct auth_reply {
	uint16_t type;		/* AUTH_*_RES */
	uint32_t result;
	bool tempfail;		/* no answer from the service (down, timeout, bad reply) */
	char *user;		/* LOGIN: canonical user */
	char *token;		/* LOGIN: hand-off token ("" without a run secret) */
	char *host;		/* RCPT, ROUTE: the mailbox host of an RCPT_RELAY; LOGIN: the user's
				 * mailbox host when not this host ("" none) */
	uint64_t quota;		/* USER */
	uint32_t expand;	/* ROUTE: the expand_status (EXPAND_UNKNOWN unless RCPT_LOCAL) */
	size_t n;		/* EXPAND, ROUTE */
	struct auth_mailbox *boxes;
	size_t naddr;		/* ADDRESSES (result is naddr too) */
	char **addrs;
};
void auth_reply_free(struct auth_reply *r);
/* Fill r from a reply message; false (r set to tempfail) if malformed or if the
 * type is not the answer to request type req_type. */
bool auth_reply_parse(struct ipc_msg *m, uint16_t req_type, struct auth_reply *r);
/* Set r to the "service unavailable" answer for a request of req_type. */
void auth_reply_tempfail(struct auth_reply *r, uint16_t req_type);

/* Build a request message (fields as in auth_proto.h). */
void auth_req_login(struct ipc_msg *m, uint32_t id, const char *service, const char *user,
		    const char *password, const char *client_ip);
/* AUTH_SITE_LOGIN_REQ: a login a front-end proxies here, vouched for by the
 * site secret. */
void auth_req_site_login(struct ipc_msg *m, uint32_t id, const char *service, const char *user,
			 const char *secret, const char *client_ip);
void auth_req_rcpt(struct ipc_msg *m, uint32_t id, const char *address);
void auth_req_sender(struct ipc_msg *m, uint32_t id, const char *user, const char *address);
void auth_req_expand(struct ipc_msg *m, uint32_t id, const char *address);
void auth_req_user(struct ipc_msg *m, uint32_t id, const char *user);
void auth_req_addresses(struct ipc_msg *m, uint32_t id, const char *user);
void auth_req_route(struct ipc_msg *m, uint32_t id, const char *address);

/* ---- blocking ---- */
struct auth_sync {
	char *path;
	int fd;
	uint32_t next_id;
	int timeout_ms;
};
/* Connects at once; -1 (errno set) if the service is not reachable, but the
 * handle is usable anyway (later requests retry the connection). */
int auth_sync_open(struct auth_sync *c, const char *path, int timeout_ms);
void auth_sync_close(struct auth_sync *c);
/* Send req (freed) and wait for its reply into r. 0, or -1 with r tempfail. */
int auth_sync_call(struct auth_sync *c, struct ipc_msg *req, struct auth_reply *r);
int auth_sync_login(struct auth_sync *c, const char *service, const char *user,
		    const char *password, const char *client_ip, struct auth_reply *r);
int auth_sync_rcpt(struct auth_sync *c, const char *address, struct auth_reply *r);
int auth_sync_sender(struct auth_sync *c, const char *user, const char *address,
		     struct auth_reply *r);
int auth_sync_expand(struct auth_sync *c, const char *address, struct auth_reply *r);
int auth_sync_user(struct auth_sync *c, const char *user, struct auth_reply *r);

/* ---- asynchronous (libevent) ---- */
struct auth_client;
/* r is valid only during the call. */
typedef void (*auth_cb)(const struct auth_reply *r, void *arg);

struct auth_client *auth_client_new(struct event_base *base, const char *path, int timeout_ms);
/* Pending callbacks are not called. Not from inside a callback of c. */
void auth_client_free(struct auth_client *c);
/* Send a built request; cb is called exactly once, later (never from inside
 * this call), unless cancelled. Returns the request id (never 0). */
uint32_t auth_client_call(struct auth_client *c, struct ipc_msg *req, auth_cb cb, void *arg);
uint32_t auth_client_login(struct auth_client *c, const char *service, const char *user,
			   const char *password, const char *client_ip, auth_cb cb, void *arg);
uint32_t auth_client_site_login(struct auth_client *c, const char *service, const char *user,
				const char *secret, const char *client_ip, auth_cb cb, void *arg);
uint32_t auth_client_rcpt(struct auth_client *c, const char *address, auth_cb cb, void *arg);
uint32_t auth_client_route(struct auth_client *c, const char *address, auth_cb cb, void *arg);
uint32_t auth_client_sender(struct auth_client *c, const char *user, const char *address,
			    auth_cb cb, void *arg);
uint32_t auth_client_addresses(struct auth_client *c, const char *user, auth_cb cb, void *arg);
/* Forget a pending request (its session went away): cb will not be called. */
void auth_client_cancel(struct auth_client *c, uint32_t id);

/* ---- login tokens (auth_proto.h) ---- */
#define AUTH_TOKEN_MAX	96	/* 64 hex + '.' + expiry + NUL */
#define AUTH_SECRET_LEN	32
/* Make the token for service/user valid until expiry (unix seconds) into out. */
void auth_token_make(const unsigned char secret[AUTH_SECRET_LEN], const char *service,
		     const char *user, int64_t expiry, char out[AUTH_TOKEN_MAX]);
/* true when token is well-formed, made with secret for exactly this service and
 * user, and now <= expiry. Compares in constant time. */
bool auth_token_verify(const unsigned char secret[AUTH_SECRET_LEN], const char *token,
		       const char *service, const char *user, int64_t now);

#endif
