/* upstream.h — the front's channels to the users' mail processes: one per
 * logged-in user (made on first use with the login token, closed after
 * session_idle_time without requests or push listeners), the requests in
 * flight on each, and relaying their answers to the HTTP clients. */
#ifndef TERN_HTTPD_UPSTREAM_H
#define TERN_HTTPD_UPSTREAM_H

#include <stdbool.h>
#include <stdint.h>

struct evhttp_request;
struct evbuffer;
struct upstream;

void upstream_init(void);
/* The open channel of user, or NULL. */
struct upstream *upstream_find(const char *user);
/* Hand a new channel for user to the mail role (token from authd); NULL
 * when the mail role cannot be reached. */
struct upstream *upstream_open(const char *user, const char *token, const char *client);
/* Requests of a kind in flight (for maxConcurrentRequests/Upload). */
unsigned upstream_busy(const struct upstream *u, uint32_t kind);
/* Send req to the mail process as kind (proto.h) with arg and the request
 * body; the answer goes back to req. */
void upstream_send(struct upstream *u, struct evhttp_request *req, uint32_t kind, const char *arg);
/* Reload: end the push streams (their clients reconnect to the new front). */
void upstream_drain(void);

#endif
