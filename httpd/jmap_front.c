/* jmap_front.c — JMAP in the front role: which URLs are JMAP resources,
 * HTTP Basic authentication (the credential cache, else authd) or the
 * webmail's session cookie (with its CSRF token on every POST), the limits
 * the front can enforce before a request travels (maxSizeRequest,
 * maxSizeUpload, maxConcurrentRequests, maxConcurrentUpload), and handing
 * the request to the user's mail process (upstream.c), or to the user's
 * mailbox host when that is another host of the site (siteproxy.c), where
 * the request is taken with the site login instead of the user's. */
#include "httpd/jmap_front.h"
#include "httpd/authcache.h"
#include "httpd/front.h"
#include "httpd/front_parse.h"
#include "httpd/proto.h"
#include "httpd/siteproxy.h"
#include "httpd/upstream.h"
#include "httpd/webmail.h"
#include "common/auth_client.h"
#include "common/log.h"
#include "common/sasl.h"
#include "common/util.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <stdlib.h>
#include <string.h>

#define ERR_LIMIT "urn:ietf:params:jmap:error:limit"

struct job {
	struct evhttp_request *req;
	uint32_t kind;
	char *arg;
	char *user, *pass;
	char client[64];	/* as authd counts failures: the peer, or the
				 * site's client behind a front-end */
};

void jmap_front_init(void)
{
	authcache_init(F.auth_cache_s);
	websession_init(F.session_idle_s);
	upstream_init();
}

void jmap_front_drain(void)
{
	upstream_drain();
	siteproxy_drain();
}

static void job_free(struct job *j)
{
	if (j->pass)
		explicit_bzero(j->pass, strlen(j->pass));
	free(j->pass);
	free(j->user);
	free(j->arg);
	free(j);
}

static void unauthorized(struct evhttp_request *req, const char *detail)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
			  "Basic realm=\"tern\", charset=\"UTF-8\"");
	reply_problem(req, 401, "about:blank", NULL, detail);
}

/* The limits on requests in flight, then off to the mail process. */
static void dispatch(struct upstream *u, struct job *j)
{
	if (j->kind == REQ_API && upstream_busy(u, REQ_API) >= F.lim.max_concurrent_requests)
		reply_problem(j->req, 400, ERR_LIMIT, "maxConcurrentRequests",
			      "Too many requests in progress for this account");
	else if (j->kind == REQ_UPLOAD &&
		 upstream_busy(u, REQ_UPLOAD) >= F.lim.max_concurrent_upload)
		reply_problem(j->req, 400, ERR_LIMIT, "maxConcurrentUpload",
			      "Too many uploads in progress for this account");
	else
		upstream_send(u, j->req, j->kind, j->arg);
	job_free(j);
}

static void with_user(struct job *j, const char *canon, const char *token, const char *host)
{
	if (*host) {
		siteproxy_send(j->req, j->kind, canon, host, j->client);
		job_free(j);
		return;
	}
	struct upstream *u = upstream_find(canon);
	if (!u && *token)
		u = upstream_open(canon, token, j->client);
	if (!u) {
		reply_problem(j->req, 503, "about:blank", NULL, "Mail service unavailable, try again");
		job_free(j);
		return;
	}
	dispatch(u, j);
}

static void on_auth(const struct auth_reply *r, void *arg)
{
	struct job *j = arg;
	int result = r->tempfail ? AUTH_TEMPFAIL : (int)r->result;
	if (result == AUTH_OK && r->user && r->token) {
		const char *host = r->host ? r->host : "";
		authcache_put(j->user, j->pass, r->user, r->token, host);
		with_user(j, r->user, r->token, host);
		return;
	}
	if (result == AUTH_LOCKED) {
		evhttp_add_header(evhttp_request_get_output_headers(j->req), "Retry-After", "300");
		reply_problem(j->req, 429, "about:blank", NULL, "Too many failed logins; try later");
	} else if (result == AUTH_FAIL) {
		log_info("http login failed: client=%s", j->client);
		unauthorized(j->req, "Wrong user name or password");
	} else {
		reply_problem(j->req, 503, "about:blank", NULL, "Authentication service unavailable");
	}
	job_free(j);
}

/* The webmail's session instead of Basic: POSTs (API calls, uploads) must
 * carry its CSRF token. No WWW-Authenticate on failure, so that the browser
 * shows the page's login form, not its own dialog. */
static void with_session(struct job *j)
{
	struct websession *s = websession_of(j->req);
	const char *why = NULL;
	int code = 401;
	if (!s) {
		why = "Not logged in (or the session has ended)";
	} else if (evhttp_request_get_command(j->req) == EVHTTP_REQ_POST &&
		   !websession_csrf_ok(j->req, s)) {
		why = "Missing or wrong CSRF token";
		code = 403;
	} else if (!*s->host && !upstream_find(s->user) && !*websession_token(s)) {
		/* the mail process has gone and the login token is stale */
		websession_end(s);
		why = "The session has ended; log in again";
	}
	if (why) {
		reply_problem(j->req, code, "about:blank", NULL, why);
		job_free(j);
		return;
	}
	char *user = xstrdup(s->user), *host = xstrdup(s->host);
	with_user(j, user, websession_token(s), host);
	free(user);
	free(host);
}

static bool has_cookie(struct evhttp_request *req)
{
	return evhttp_find_header(evhttp_request_get_input_headers(req), "Cookie") != NULL;
}

/* The cache key of a site login: no Basic user name holds a ':'. */
#define SITE_CACHE_PREFIX "site:"

static void on_site_auth(const struct auth_reply *r, void *arg)
{
	struct job *j = arg;
	if (!r->tempfail && r->result == AUTH_OK && r->user && r->token) {
		authcache_put(j->user, j->pass, r->user, r->token, "");
		with_user(j, r->user, r->token, "");
		return;
	}
	if (r->tempfail || r->result == AUTH_TEMPFAIL) {
		evhttp_add_header(evhttp_request_get_output_headers(j->req), "Retry-After", "30");
		reply_problem(j->req, 503, "about:blank", NULL, "Mail service unavailable, try again");
	} else {
		reply_problem(j->req, 403, "about:blank", NULL, "Site login refused");
	}
	job_free(j);
}

/* A front-end of the site asks for its user (siteproxy.h): only from
 * site_frontends, with the site secret, which authd checks. */
static void site_login(struct job *j, const char *b64)
{
	const char *peer = req_peer(j->req);
	char *user = NULL, *secret = NULL;
	const char *client =
		evhttp_find_header(evhttp_request_get_input_headers(j->req), SITE_CLIENT_HEADER);
	if (!siteproxy_peer_ok(j->req) || !sasl_plain_site(b64, &user, &secret) || !client ||
	    !*client || strlen(client) >= sizeof j->client) {
		log_warn("http: site login refused: peer=%s%s", peer,
			 siteproxy_peer_ok(j->req) ? " (malformed)"
						   : " (not in site_frontends, or no site secret)");
		reply_problem(j->req, 403, "about:blank", NULL, "Site login refused");
		if (secret)
			explicit_bzero(secret, strlen(secret));
		free(secret);
		free(user);
		job_free(j);
		return;
	}
	strlcpy_t(j->client, client, sizeof j->client);
	j->user = xasprintf(SITE_CACHE_PREFIX "%s", user);
	j->pass = secret;
	const char *token, *host;
	const char *canon = authcache_get(j->user, j->pass, &token, &host);
	if (canon && (*token || upstream_find(canon))) {
		char *c = xstrdup(canon);
		with_user(j, c, token, "");
		free(c);
	} else {
		auth_client_site_login(F.auth, "http", user, secret, j->client, on_site_auth, j);
	}
	free(user);
}

static void authenticate(struct job *j)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(j->req);
	const char *site = evhttp_find_header(in, SITE_LOGIN_HEADER);
	if (site) {
		site_login(j, site);
		return;
	}
	const char *h = evhttp_find_header(in, "Authorization");
	if (!h && has_cookie(j->req)) {
		with_session(j);
		return;
	}
	if (!front_basic_parse(h, &j->user, &j->pass)) {
		unauthorized(j->req, "Log in with HTTP Basic authentication");
		job_free(j);
		return;
	}
	const char *token, *host;
	const char *canon = authcache_get(j->user, j->pass, &token, &host);
	if (canon && (*token || *host || upstream_find(canon))) {
		char *c = xstrdup(canon), *hc = xstrdup(host);
		with_user(j, c, token, hc);
		free(c);
		free(hc);
		return;
	}
	auth_client_login(F.auth, "http", j->user, j->pass, j->client, on_auth, j);
}

/* Which JMAP resource path names: its kind and the argument passed on, or
 * 0 when it is none. */
static uint32_t route(const char *path, const char **rest)
{
	static const struct { const char *prefix; uint32_t kind; bool exact; } routes[] = {
		{ "/.well-known/jmap", REQ_SESSION, true },
		{ "/jmap/session", REQ_SESSION, true },
		{ "/jmap/api", REQ_API, true },
		{ "/jmap/api/", REQ_API, true },
		{ "/jmap/upload/", REQ_UPLOAD, false },
		{ "/jmap/download/", REQ_DOWNLOAD, false },
		{ "/jmap/eventsource", REQ_EVENTS, true },
		{ "/jmap/eventsource/", REQ_EVENTS, true },
	};
	for (size_t i = 0; i < ARRAY_LEN(routes); i++) {
		size_t n = strlen(routes[i].prefix);
		if (routes[i].exact ? !strcmp(path, routes[i].prefix) : !strncmp(path, routes[i].prefix, n)) {
			*rest = path + n;
			return routes[i].kind;
		}
	}
	return 0;
}

/* What travels as the request's argument: the upload's account id (without
 * its trailing slash), the download path with its query, push's query. */
static char *route_arg(struct evhttp_request *req, uint32_t kind, const char *rest)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *q = u ? evhttp_uri_get_query(u) : NULL;
	if (kind == REQ_UPLOAD)
		return xstrndup(rest, strcspn(rest, "/"));
	if (kind == REQ_DOWNLOAD)
		return xasprintf("%s%s%s", rest, q ? "?" : "", q ? q : "");
	if (kind == REQ_EVENTS)
		return xstrdup(q ? q : "");
	return xstrdup("");
}

/* Size limits known from the request alone. true if answered. */
static bool too_large(struct evhttp_request *req, uint32_t kind)
{
	size_t n = evbuffer_get_length(evhttp_request_get_input_buffer(req));
	if (kind == REQ_API && n > F.lim.max_size_request) {
		reply_problem(req, 400, ERR_LIMIT, "maxSizeRequest", "The request is too large");
		return true;
	}
	if (kind == REQ_UPLOAD && n > F.lim.max_size_upload) {
		reply_problem(req, 413, ERR_LIMIT, "maxSizeUpload", "The upload is too large");
		return true;
	}
	return false;
}

bool jmap_front_serve(struct evhttp_request *req, const char *path)
{
	const char *rest;
	uint32_t kind = route(path, &rest);
	if (!kind)
		return false;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	bool post = kind == REQ_API || kind == REQ_UPLOAD;
	if (post ? cmd != EVHTTP_REQ_POST : cmd != EVHTTP_REQ_GET) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", post ? "POST" : "GET");
		reply_problem(req, 405, "about:blank", NULL, "Method not allowed");
		return true;
	}
	if (too_large(req, kind))
		return true;
	struct job *j = xcalloc(1, sizeof *j);
	j->req = req;
	j->kind = kind;
	j->arg = route_arg(req, kind, rest);
	strlcpy_t(j->client, req_peer(req), sizeof j->client);
	if (strlen(j->arg) >= CHAN_ARG_MAX) {
		reply_problem(req, 414, "about:blank", NULL, "URL too long");
		job_free(j);
		return true;
	}
	authenticate(j);
	return true;
}
