/* webmail_front.c — the webmail's routes in the front role: the page and its
 * files under /webmail/ (with a strict Content-Security-Policy), login,
 * logout and the session's CSRF token. Logins go to authd like every other
 * (service http: the same per-address penalty and lock-out); a success opens
 * the user's mail process at once, while authd's token is fresh. */
#include "httpd/webmail.h"
#include "httpd/front.h"
#include "httpd/front_parse.h"
#include "httpd/upstream.h"
#include "common/auth_client.h"
#include "common/log.h"
#include "common/util.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define PREFIX "/webmail/"

/* No inline script or style anywhere; the page reaches only this origin. */
#define PAGE_CSP                                                                     \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "   \
	"connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; " \
	"frame-ancestors 'none'"

/* The frame a message's HTML is written into (app.js; sandboxed without
 * scripts): no script at all, the message's own styles, images from data:
 * only, or also from https: in the variant loaded once the user asks. Only
 * the page may frame it. */
#define FRAME_CSP(img)                                                          \
	"default-src 'none'; style-src 'unsafe-inline'; img-src " img "; "      \
	"font-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"

static const struct {
	const char *name, *csp, *framing;
} policies[] = {
	{ "frame.html", FRAME_CSP("data:"), "SAMEORIGIN" },
	{ "frame-images.html", FRAME_CSP("data: https:"), "SAMEORIGIN" },
};

static const char *cookie_attrs = "Path=/; Secure; HttpOnly; SameSite=Strict";

static void security_headers(struct evhttp_request *req, const char *name)
{
	const char *csp = PAGE_CSP, *framing = "DENY";
	for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++) {
		if (!strcmp(name, policies[i].name)) {
			csp = policies[i].csp;
			framing = policies[i].framing;
		}
	}
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Security-Policy", csp);
	evhttp_add_header(h, "X-Frame-Options", framing);
	evhttp_add_header(h, "Referrer-Policy", "no-referrer");
	evhttp_add_header(h, "Cache-Control", "no-store");
}

static void reply_json(struct evhttp_request *req, int code, json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	reply_body(req, code, "application/json", s, strlen(s));
	free(s);
}

static void set_cookie(struct evhttp_request *req, const char *value, bool clear)
{
	char *c = xasprintf(COOKIE_NAME "=%s; %s%s", value, cookie_attrs, clear ? "; Max-Age=0" : "");
	evhttp_add_header(evhttp_request_get_output_headers(req), "Set-Cookie", c);
	free(c);
}

static bool is_json(struct evhttp_request *req)
{
	const char *t = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	return t && !strncasecmp(t, "application/json", 16) && (!t[16] || t[16] == ';');
}

struct login {
	struct evhttp_request *req;
	char *user, *pass;
};

static void login_free(struct login *l)
{
	explicit_bzero(l->pass, strlen(l->pass));
	free(l->pass);
	free(l->user);
	free(l);
}

static void on_login(const struct auth_reply *r, void *arg)
{
	struct login *l = arg;
	int result = r->tempfail ? AUTH_TEMPFAIL : (int)r->result;
	if (result == AUTH_OK && r->user && r->token) {
		const char *host = r->host ? r->host : "";
		/* a user stored here gets its mail process now (not one of
		 * another host: siteproxy.c serves those) */
		if (!*host && !upstream_find(r->user) && *r->token)
			upstream_open(r->user, r->token, req_peer(l->req));
		struct websession *s = websession_new(r->user, r->token, host);
		set_cookie(l->req, s->id, false);
		log_info("webmail login: user=%s client=%s", r->user, req_peer(l->req));
		reply_json(l->req, 200, json_pack("{s:s, s:s}", "user", s->user, "csrf", s->csrf));
	} else if (result == AUTH_LOCKED) {
		evhttp_add_header(evhttp_request_get_output_headers(l->req), "Retry-After", "300");
		reply_problem(l->req, 429, "about:blank", NULL, "Too many failed logins; try later");
	} else if (result == AUTH_FAIL) {
		log_info("webmail login failed: client=%s", req_peer(l->req));
		reply_problem(l->req, 401, "about:blank", NULL, "Wrong user name or password");
	} else {
		reply_problem(l->req, 503, "about:blank", NULL, "Authentication service unavailable");
	}
	login_free(l);
}

/* The two strings of a login body, or NULL. */
static struct login *parse_login(struct evhttp_request *req)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t n = evbuffer_get_length(in);
	char *u, *p;
	if (n > LOGIN_MAX || !front_login_parse((const char *)evbuffer_pullup(in, -1), n, &u, &p))
		return NULL;
	struct login *l = xcalloc(1, sizeof *l);
	l->req = req;
	l->user = u;
	l->pass = p;
	return l;
}

/* A cross-site form cannot send application/json without a CORS preflight
 * (which this origin never grants), so login CSRF is refused here. */
static void login(struct evhttp_request *req)
{
	if (!is_json(req)) {
		reply_problem(req, 415, "about:blank", NULL, "Send the login as application/json");
		return;
	}
	struct login *l = parse_login(req);
	if (!l) {
		reply_problem(req, 400, "about:blank", NULL, "Expected {\"username\", \"password\"}");
		return;
	}
	auth_client_login(F.auth, "http", l->user, l->pass, req_peer(req), on_login, l);
}

static void logout(struct evhttp_request *req)
{
	struct websession *s = websession_of(req);
	if (s && !websession_csrf_ok(req, s)) {
		reply_problem(req, 403, "about:blank", NULL, "Missing or wrong CSRF token");
		return;
	}
	if (s)
		websession_end(s);
	set_cookie(req, "", true);
	reply_json(req, 200, json_object());
}

/* The page asks who is logged in (after a reload it has no CSRF token). */
static void whoami(struct evhttp_request *req)
{
	struct websession *s = websession_of(req);
	if (!s) {
		reply_problem(req, 401, "about:blank", NULL, "Not logged in");
		return;
	}
	reply_json(req, 200, json_pack("{s:s, s:s}", "user", s->user, "csrf", s->csrf));
}

static void serve_file(struct evhttp_request *req, const char *name)
{
	struct webmail_file f;
	if (!webmail_file(name, &f)) {
		reply_status(req, 404, "Not found");
		return;
	}
	security_headers(req, name);
	reply_body(req, 200, f.type, f.data, f.len);
}

static bool method_is(struct evhttp_request *req, enum evhttp_cmd_type want, const char *allow)
{
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	if (cmd == want || (want == EVHTTP_REQ_GET && cmd == EVHTTP_REQ_HEAD))
		return true;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
	reply_status(req, 405, "Method not allowed");
	return false;
}

static void redirect(struct evhttp_request *req, const char *to)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Location", to);
	reply_status(req, 302, "Found");
}

bool webmail_serve(struct evhttp_request *req, const char *path)
{
	if (!strcmp(path, "/") || !strcmp(path, "/webmail")) {
		if (method_is(req, EVHTTP_REQ_GET, "GET, HEAD"))
			redirect(req, PREFIX);
		return true;
	}
	if (strncmp(path, PREFIX, strlen(PREFIX)))
		return false;
	const char *name = path + strlen(PREFIX);
	if (!strcmp(name, "login")) {
		if (method_is(req, EVHTTP_REQ_POST, "POST"))
			login(req);
	} else if (!strcmp(name, "logout")) {
		if (method_is(req, EVHTTP_REQ_POST, "POST"))
			logout(req);
	} else if (!strcmp(name, "session")) {
		if (method_is(req, EVHTTP_REQ_GET, "GET, HEAD"))
			whoami(req);
	} else if (method_is(req, EVHTTP_REQ_GET, "GET, HEAD")) {
		serve_file(req, name);
	}
	return true;
}
