/* front.h — the front role's shared state and reply helpers. */
#ifndef TERN_HTTPD_FRONT_H
#define TERN_HTTPD_FRONT_H

#include "httpd/httpd.h"

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct evhttp;
struct evhttp_request;
struct auth_client;
struct listener;

#define FRONT_MAX_LISTENERS 16

struct front {
	struct event_base *base;
	struct evhttp *http, *https;
	SSL_CTX *tls;
	struct auth_client *auth;
	char *run_prefix;		/* "" chrooted in run_dir, else run_dir */
	char *host;			/* public host name (autoconfig) */
	char *base_url;			/* https://host[:port] (redirects, URLs) */
	unsigned port_base;
	uint64_t nconns, max_clients;	/* HTTPS connections open / allowed */
	uint64_t auth_cache_s, session_idle_s, event_ping_min_s, request_timeout_s;
	struct jmap_limits lim;
	char *sts_policy;		/* MTA-STS policy text, NULL: none published */
	struct listener *bound[FRONT_MAX_LISTENERS];
	int nbound;
	bool draining;
};

extern struct front F;

/* Public port of a standard service ("https" 443 -> port_base + 443). */
unsigned front_port(unsigned standard);

/* Reply with a body (copied) and its Content-Type. */
void reply_body(struct evhttp_request *req, int code, const char *ctype, const char *body,
		size_t len);
/* Reply with an RFC 7807 problem details object (application/problem+json):
 * type (a urn:ietf:params:jmap:error: name or "about:blank"), the JMAP
 * "limit" property when limit is not NULL, and detail. */
void reply_problem(struct evhttp_request *req, int code, const char *type, const char *limit,
		   const char *detail);
/* Reply with a short plain-text body (status line reason as the text). */
void reply_status(struct evhttp_request *req, int code, const char *text);
/* Is the client still there (the request may outlive its connection while
 * an answer is awaited)? */
bool req_alive(struct evhttp_request *req);
/* The client's address as text (for authd's penalty and the log). */
const char *req_peer(struct evhttp_request *req);

/* Files served before login (wellknown.c): true if req was answered. */
bool wellknown_serve(struct evhttp_request *req, const char *path, bool tls);
/* Plain HTTP: everything else is redirected to HTTPS. */
void redirect_https(struct evhttp_request *req);

#endif
