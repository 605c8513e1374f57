/* siteproxy.h — JMAP in a site of several hosts (docs/SCALING.md).
 *
 * At a front-end (or a mailbox host serving another host's user), a request
 * authenticated here whose user is stored on another mailbox host is passed
 * to that host's HTTPS port as an HTTP request: the same method, target and
 * body, with the header
 *
 *   Tern-Site-Login: base64("USER" NUL "site" NUL SECRET)   (SASL PLAIN shape)
 *   Tern-Site-Client: the client's address
 *
 * The mailbox host takes Tern-Site-Login only from site_frontends on a host
 * with a site secret (authd checks the secret and that the user is stored
 * there: AUTH_SITE_LOGIN_REQ), and serves the request as its own user's.
 * The answer comes back streamed (EventSource, downloads, API answers), the
 * session resource with its URLs turned to this host's. A mailbox host that
 * is down or refuses the site login gives the client 503 with Retry-After
 * and a log line here, never a 401. */
#ifndef TERN_HTTPD_SITEPROXY_H
#define TERN_HTTPD_SITEPROXY_H

#include <stdbool.h>
#include <stdint.h>

struct instance;
struct evhttp_request;

#define SITE_LOGIN_HEADER "Tern-Site-Login"
#define SITE_CLIENT_HEADER "Tern-Site-Client"

/* Read the site's settings and secret (as root, before privdrop). true when
 * this host may proxy to mailbox hosts (then it needs TCP). */
bool siteproxy_load(const struct instance *in);
/* Pass req (of JMAP kind REQ_*, already routed and checked) to user's
 * mailbox host named host, as client. Always answers req. */
void siteproxy_send(struct evhttp_request *req, uint32_t kind, const char *user,
		    const char *host, const char *client);
/* May the peer of req log in for a user with the site secret (it is in
 * site_frontends and this host has a site secret)? */
bool siteproxy_peer_ok(struct evhttp_request *req);
/* Reload: end the streams in flight (as upstream_drain does). */
void siteproxy_drain(void);

#endif
