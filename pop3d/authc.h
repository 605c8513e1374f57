/* authc.h — asynchronous login checks against authd (common/auth_proto.h) on
 * a libevent loop. One connection, requests pipelined, replies matched by id
 * (authd answers failures late, so replies may come out of order). If authd
 * is unreachable or does not answer in time, the request fails with
 * AUTH_TEMPFAIL; the next request reconnects. */
#ifndef TERN_POP3D_AUTHC_H
#define TERN_POP3D_AUTHC_H

#include <stdint.h>

struct event_base;
struct authc;

/* result: enum auth_result; user and token valid only during the call. */
typedef void (*authc_cb)(void *arg, int result, const char *user, const char *token);

struct authc *authc_new(struct event_base *base, const char *sock_path, unsigned timeout_s);
/* Start a login check; returns a request id (never 0) for authc_cancel. The
 * callback may run before this returns (when authd is unreachable). */
uint32_t authc_login(struct authc *a, const char *service, const char *user,
		     const char *password, const char *client_ip, authc_cb cb, void *arg);
/* Fail every pending request (callbacks run) and free a. */
void authc_free(struct authc *a);
/* Forget a request (the session went away); its callback never runs. */
void authc_cancel(struct authc *a, uint32_t id);

#endif
