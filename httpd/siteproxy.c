/* siteproxy.c — JMAP requests of users stored on another mailbox host of the
 * site, passed to that host's HTTPS port (see siteproxy.h). One connection
 * per request (libevent's client cannot take a TLS connection up again once
 * it closed), at most max_sessions in flight; the answer is streamed back
 * with the client's pace setting the mailbox host's. */
#include "httpd/siteproxy.h"
#include "httpd/front.h"
#include "httpd/proto.h"
#include "common/instance.h"
#include "common/log.h"
#include "common/netlist.h"
#include "common/sasl.h"
#include "common/site.h"
#include "common/site_link.h"
#include "common/tls.h"
#include "common/util.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HOP_HEADERS_MAX (64 * 1024)	/* the mailbox host's answer headers */
#define HOP_BODY_MAX (1024 * 1024)	/* a session resource or problem we hold */
#define HOP_BACKLOG_MAX (1024 * 1024)	/* unsent to the client: stop reading */
#define HOP_KEEPALIVE_S 60		/* a vanished mailbox host ends a stream */
#define HOP_RETRY_AFTER "30"

static struct {
	struct site site;
	char *secret;			/* "" on a host of one */
	struct netlist frontends;	/* site_frontends */
	SSL_CTX *tls;			/* client side of the hop */
	bool verify;			/* site_tls = verify */
	unsigned inflight;
	struct hop *hops;		/* every request in flight */
} S;

struct hop {
	struct evhttp_request *req;	/* the client's */
	struct evhttp_connection *conn;	/* to the mailbox host */
	struct evhttp_request *up;	/* ours to it, until done */
	const struct site_host *h;
	uint32_t kind;
	char *user;
	char client[64];
	int code;			/* the mailbox host's status */
	enum evhttp_request_error err;
	bool failed;			/* err is set */
	bool streaming;			/* the client has our status line */
	bool refused;			/* the mailbox host refused the site login */
	bool paused;			/* not reading: the client is behind */
	bool overflow;
	struct evbuffer *body;		/* held answers (not streamed) */
	struct hop *prev, *next;
};

bool siteproxy_load(const struct instance *in)
{
	if (!site_login_load(in, &S.site, &S.secret, &S.frontends))
		return false;
	char why[512];
	/* site_tls = verify: the site's CA alone, and the host's name (SNI and
	 * the check, as site_link.c); none: any certificate, which keeps the
	 * secret from a passive observer, not from a man in the middle. */
	S.verify = S.site.tls_verify;
	S.tls = S.verify ? site_link_tls_ctx(&S.site, why, sizeof why)
			 : tls_client_ctx(NULL, 0, why, sizeof why);
	if (!S.tls)
		fatal("http proxy: %s", why[0] ? why : "no TLS context");
	return true;
}

bool siteproxy_peer_ok(struct evhttp_request *req)
{
	return S.secret && S.secret[0] && netlist_has(&S.frontends, req_peer(req));
}

static void free_conn(evutil_socket_t fd, short what, void *arg)
{
	evhttp_connection_free(arg);
}

static void hop_free(struct hop *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		S.hops = p->next;
	if (p->next)
		p->next->prev = p->prev;
	S.inflight--;
	/* not from inside the connection's own callbacks */
	event_base_once(F.base, -1, EV_TIMEOUT, free_conn, p->conn, NULL);
	if (p->body)
		evbuffer_free(p->body);
	free(p->user);
	free(p);
}

static const char *hop_why(const struct hop *p)
{
	if (!p->failed)
		return "closed";
	switch (p->err) {
	case EVREQ_HTTP_TIMEOUT:
		return "timeout";
	case EVREQ_HTTP_EOF:
		return "closed";
	case EVREQ_HTTP_INVALID_HEADER:
		return "malformed answer";
	case EVREQ_HTTP_BUFFER_ERROR:
		return "cannot connect";
	case EVREQ_HTTP_DATA_TOO_LONG:
		return "answer too large";
	default:
		return "failed";
	}
}

static void unavailable(struct evhttp_request *req, const char *detail)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", HOP_RETRY_AFTER);
	reply_problem(req, 503, "about:blank", NULL, detail);
}

static void hop_fail(struct hop *p, const char *why)
{
	log_warn("http proxy: user=%s host=%s %s:%u client=%s failed: %s", p->user, p->h->name,
		 p->h->addr, (unsigned)site_service_port(p->h, SITE_PORT_HTTPS), p->client, why);
	unavailable(p->req, "Mailbox host unavailable, try again");
}

/* The mailbox host's headers onto the client's answer, less those that
 * belong to one connection. */
static void copy_headers(struct evhttp_request *from, struct evhttp_request *to)
{
	static const char *const skip[] = { "Content-Length", "Transfer-Encoding", "Connection",
					    "Keep-Alive", "Date" };
	struct evkeyvalq *out = evhttp_request_get_output_headers(to);
	for (struct evkeyval *kv = evhttp_request_get_input_headers(from)->tqh_first; kv;
	     kv = kv->next.tqe_next) {
		bool hop_only = false;
		for (size_t i = 0; i < ARRAY_LEN(skip); i++)
			hop_only |= !strcasecmp(kv->key, skip[i]);
		if (!hop_only)
			evhttp_add_header(out, kv->key, kv->value);
	}
}

/* The session resource names the mailbox host's URLs: the client must
 * keep coming here. NULL when it is not the JSON object expected. */
static char *session_here(struct evbuffer *b)
{
	static const char *const keys[] = { "apiUrl", "downloadUrl", "uploadUrl", "eventSourceUrl" };
	size_t n = evbuffer_get_length(b);
	json_t *o = json_loadb((const char *)evbuffer_pullup(b, -1), n, 0, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		const char *v = json_string_value(json_object_get(o, keys[i]));
		const char *host = v && !strncmp(v, "https://", 8) ? v + 8 : NULL;
		const char *path = host ? strchr(host, '/') : NULL;
		if (path) {
			char *mine = xasprintf("%s%s", F.base_url, path);
			json_object_set_new(o, keys[i], json_string(mine));
			free(mine);
		}
	}
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static void reply_held(struct hop *p, struct evhttp_request *up)
{
	if (p->code >= 500)
		log_warn("http proxy: user=%s host=%s client=%s: the mailbox host answered %d",
			 p->user, p->h->name, p->client, p->code);
	copy_headers(up, p->req);
	if (p->kind == REQ_SESSION && p->code == 200) {
		char *s = session_here(p->body);
		if (!s) {
			hop_fail(p, "malformed session resource");
			return;
		}
		evbuffer_drain(p->body, evbuffer_get_length(p->body));
		evbuffer_add(p->body, s, strlen(s));
		free(s);
	}
	evhttp_send_reply(p->req, p->code, NULL, p->body);
}

static void on_up_error(enum evhttp_request_error err, void *arg)
{
	struct hop *p = arg;
	p->err = err;
	p->failed = true;
}

static void end_stream(struct hop *p)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(p->req);
	if (evcon)
		evhttp_connection_set_closecb(evcon, NULL, NULL);
	evhttp_send_reply_end(p->req);	/* frees req, also when its client is gone */
}

/* The answer is complete, or the hop failed (up NULL). */
static void on_up_done(struct evhttp_request *up, void *arg)
{
	struct hop *p = arg;
	p->up = NULL;
	if (p->streaming) {
		if (!up || !evhttp_request_get_response_code(up))
			log_info("http proxy: user=%s host=%s: stream ended (%s)", p->user, p->h->name,
				 hop_why(p));
		end_stream(p);
	} else if (!up || !evhttp_request_get_response_code(up)) {
		char tls[256] = "";
		if (S.verify)	/* else the certificate is not checked at all */
			site_link_tls_error(evhttp_connection_get_bufferevent(p->conn), tls,
					    sizeof tls);
		hop_fail(p, tls[0] ? tls : hop_why(p));
	} else if (p->refused) {
		char why[64];
		snprintf(why, sizeof why, "site login refused (%d)", p->code);
		hop_fail(p, why);
	} else if (p->overflow) {
		hop_fail(p, "answer too large");
	} else {
		reply_held(p, up);
	}
	hop_free(p);
}

static void resume(struct evhttp_connection *evcon, void *arg)
{
	struct hop *p = arg;
	if (p->paused && p->up) {
		p->paused = false;
		bufferevent_enable(evhttp_connection_get_bufferevent(p->conn), EV_READ);
	}
}

static void on_up_chunk(struct evhttp_request *up, void *arg)
{
	struct hop *p = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(up);
	if (p->refused || p->overflow)
		return;		/* read and dropped */
	if (!p->streaming) {
		if (evbuffer_get_length(p->body) + evbuffer_get_length(in) > HOP_BODY_MAX)
			p->overflow = true;
		else
			evbuffer_add_buffer(p->body, in);
		return;
	}
	struct evhttp_connection *evcon = evhttp_request_get_connection(p->req);
	if (!evcon)
		return;		/* gone: on_client_close cancels us */
	struct evbuffer *b = evbuffer_new();
	evbuffer_add_buffer(b, in);
	struct bufferevent *cbev = evhttp_connection_get_bufferevent(evcon);
	if (evbuffer_get_length(bufferevent_get_output(cbev)) + evbuffer_get_length(b) >
	    HOP_BACKLOG_MAX) {
		/* the client is behind: read from the mailbox host again once
		 * what it has is written */
		p->paused = true;
		bufferevent_disable(evhttp_connection_get_bufferevent(p->conn), EV_READ);
		evhttp_send_reply_chunk_with_cb(p->req, b, resume, p);
	} else {
		evhttp_send_reply_chunk(p->req, b);
	}
	evbuffer_free(b);
}

/* The client went away during a stream: stop asking the mailbox host. */
static void on_client_close(struct evhttp_connection *evcon, void *arg)
{
	struct hop *p = arg;
	if (p->up) {
		struct evhttp_request *up = p->up;
		p->up = NULL;
		evhttp_cancel_request(up);	/* no on_up_done */
	}
	end_stream(p);
	hop_free(p);
}

static int on_up_headers(struct evhttp_request *up, void *arg)
{
	struct hop *p = arg;
	p->code = evhttp_request_get_response_code(up);
	struct bufferevent *bev = evhttp_connection_get_bufferevent(p->conn);
	if (fd_dead_peer_after(bufferevent_getfd(bev), HOP_KEEPALIVE_S) < 0)
		log_warn("http proxy: cannot set TCP keepalive: %m");
	if (p->code == 401 || p->code == 403) {
		p->refused = true;	/* the client's login was good: never a 401 */
		return 0;
	}
	if (p->code != 200 || p->kind == REQ_SESSION)
		return 0;	/* held, then answered whole */
	struct evhttp_connection *evcon = evhttp_request_get_connection(p->req);
	if (!evcon)
		return -1;	/* the client has gone already */
	p->streaming = true;
	copy_headers(up, p->req);
	if (p->kind == REQ_EVENTS) {
		/* the stream lives as long as the client listens */
		evhttp_connection_set_timeout(evcon, -1);
		evhttp_connection_set_timeout(p->conn, -1);
	}
	evhttp_connection_set_closecb(evcon, on_client_close, p);
	evhttp_send_reply_start(p->req, 200, "OK");
	return 0;
}

static void add_site_headers(struct evkeyvalq *h, const struct hop *p,
			     struct evhttp_request *req)
{
	char *b64 = sasl_plain_site_encode(p->user, S.secret);
	evhttp_add_header(h, SITE_LOGIN_HEADER, b64);
	explicit_bzero(b64, strlen(b64));
	free(b64);
	evhttp_add_header(h, SITE_CLIENT_HEADER, p->client);
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	if (ct)
		evhttp_add_header(h, "Content-Type", ct);
	char host[INET6_ADDRSTRLEN + 10];
	snprintf(host, sizeof host, strchr(p->h->addr, ':') ? "[%s]:%u" : "%s:%u", p->h->addr,
		 (unsigned)site_service_port(p->h, SITE_PORT_HTTPS));
	evhttp_add_header(h, "Host", host);
}

static struct evhttp_connection *connect_to(const struct site_host *h)
{
	SSL *ssl = SSL_new(S.tls);
	if (!ssl)
		return NULL;
	if (S.verify) {
		SSL_set_tlsext_host_name(ssl, h->name);
		SSL_set1_host(ssl, h->name);
	}
	struct bufferevent *bev = bufferevent_openssl_socket_new(
		F.base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		return NULL;
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	struct evhttp_connection *c = evhttp_connection_base_bufferevent_new(
		F.base, NULL, bev, h->addr, site_service_port(h, SITE_PORT_HTTPS));
	if (!c) {
		bufferevent_free(bev);
		return NULL;
	}
	evhttp_connection_set_retries(c, 0);
	evhttp_connection_set_timeout(c, (int)F.request_timeout_s);
	evhttp_connection_set_max_headers_size(c, HOP_HEADERS_MAX);
	return c;
}

void siteproxy_send(struct evhttp_request *req, uint32_t kind, const char *user,
		    const char *host, const char *client)
{
	const struct site_host *h = S.tls ? site_find(&S.site, host) : NULL;
	if (!strcmp(host, SITE_HOLD_HOST)) {
		log_info("http proxy: user=%s client=%s: being moved to another mailbox host: try "
			 "later", user, client);
		unavailable(req, "Mailbox being moved, try again");
		return;
	}
	if (!h) {
		log_err("http proxy: user=%s client=%s: mailbox host %s is not in mailbox_hosts%s",
			user, client, host, S.tls ? "" : " or no site_secret_file");
		unavailable(req, "Mailbox host unavailable, try again");
		return;
	}
	if (S.inflight >= F.max_clients) {
		log_warn("http proxy: user=%s host=%s client=%s: %u requests in flight", user,
			 h->name, client, S.inflight);
		unavailable(req, "Too busy, try again");
		return;
	}
	struct evhttp_connection *conn = connect_to(h);
	if (!conn) {
		log_err("http proxy: user=%s host=%s: cannot make a connection", user, h->name);
		unavailable(req, "Mailbox host unavailable, try again");
		return;
	}
	struct hop *p = xcalloc(1, sizeof *p);
	p->req = req;
	p->conn = conn;
	p->h = h;
	p->kind = kind;
	p->user = xstrdup(user);
	strlcpy_t(p->client, client, sizeof p->client);
	p->body = evbuffer_new();
	p->next = S.hops;
	if (S.hops)
		S.hops->prev = p;
	S.hops = p;
	S.inflight++;
	p->up = evhttp_request_new(on_up_done, p);
	evhttp_request_set_header_cb(p->up, on_up_headers);
	evhttp_request_set_chunked_cb(p->up, on_up_chunk);
	evhttp_request_set_error_cb(p->up, on_up_error);
	add_site_headers(evhttp_request_get_output_headers(p->up), p, req);
	evbuffer_add_buffer(evhttp_request_get_output_buffer(p->up),
			    evhttp_request_get_input_buffer(req));
	if (evhttp_make_request(conn, p->up, evhttp_request_get_command(req),
				evhttp_request_get_uri(req)) < 0) {
		p->up = NULL;	/* freed by evhttp_make_request */
		hop_fail(p, "cannot send the request");
		hop_free(p);
	}
}

void siteproxy_drain(void)
{
	for (struct hop *p = S.hops, *next; p; p = next) {
		next = p->next;
		if (p->streaming && p->kind == REQ_EVENTS)
			on_client_close(NULL, p);
	}
}
