/* authc.h — asynchronous login requests to authd (RUN/auth.sock) from the
 * login role's event loop. One connection, pipelined requests, replies matched
 * by id (authd answers failures late, so replies may come out of order). A
 * lost connection fails the pending requests as temporary errors and is
 * re-opened on the next request. */
#ifndef TERN_IMAPD_AUTHC_H
#define TERN_IMAPD_AUTHC_H

#include <stdint.h>

struct event_base;
struct authc;

/* result: enum auth_result; user/token valid only during the call. */
typedef void (*authc_cb)(void *arg, int result, const char *user, const char *token);

struct authc *authc_new(struct event_base *base, const char *sock_path);
/* Returns a request id (> 0); cb is always called later, unless cancelled. */
uint32_t authc_login(struct authc *a, const char *service, const char *user, const char *pass,
		     const char *client_ip, authc_cb cb, void *arg);
void authc_cancel(struct authc *a, uint32_t id);

#endif
