/* front.c — the front role: HTTP and HTTPS listeners (libevent's evhttp over
 * OpenSSL bufferevents), run unprivileged and chrooted in run_dir. Routes
 * each request: files that need no login (wellknown.c), JMAP (jmap_front.c),
 * the webmail (webmail_front.c), and on plain HTTP a redirect to HTTPS for
 * everything else. */
#include "httpd/httpd.h"
#include "httpd/front.h"
#include "httpd/submit.h"
#include "httpd/jmap_front.h"
#include "httpd/siteproxy.h"
#include "httpd/webmail.h"
#include "common/auth_client.h"
#include "common/daemon.h"
#include "common/listener.h"
#include "common/log.h"
#include "common/mta_sts.h"
#include "common/privdrop.h"
#include "common/sandbox.h"
#include "common/tls.h"
#include "common/util.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

struct front F;
static int conn_idx = -1;	/* SSL ex_data slot: marks a counted connection */

unsigned front_port(unsigned standard)
{
	return F.port_base + standard;
}

void reply_body(struct evhttp_request *req, int code, const char *ctype, const char *body,
		size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	if (ctype)
		evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	struct evbuffer *b = evbuffer_new();
	evbuffer_add(b, body, len);
	evhttp_send_reply(req, code, NULL, b);
	evbuffer_free(b);
}

void reply_problem(struct evhttp_request *req, int code, const char *type, const char *limit,
		   const char *detail)
{
	json_t *o = json_pack("{s:s, s:i, s:s}", "type", type, "status", code, "detail", detail);
	if (limit)
		json_object_set_new(o, "limit", json_string(limit));
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	reply_body(req, code, "application/problem+json", s, strlen(s));
	free(s);
}

void reply_status(struct evhttp_request *req, int code, const char *text)
{
	char *body = xasprintf("%s\n", text);
	reply_body(req, code, "text/plain; charset=utf-8", body, strlen(body));
	free(body);
}

bool req_alive(struct evhttp_request *req)
{
	return evhttp_request_get_connection(req) != NULL;
}

const char *req_peer(struct evhttp_request *req)
{
	static char addr[64];
	struct evhttp_connection *c = evhttp_request_get_connection(req);
	char *a = NULL;
	ev_uint16_t port;
	addr[0] = '\0';
	if (c) {
		evhttp_connection_get_peer(c, &a, &port);
		strlcpy_t(addr, a ? a : "", sizeof addr);
	}
	return addr;
}

static void set_accepting(bool on)
{
	for (int i = 0; i < F.nbound; i++)
		listener_set_accepting(F.bound[i], on);
}

/* The SSL of every HTTPS connection carries a mark whose free function
 * counts the connection as gone: evhttp has no hook of its own for that.
 * At max_clients the listeners pause (the kernel's backlog holds the rest). */
static void conn_gone(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp)
{
	if (!ptr)
		return;
	if (F.nconns > 0)
		F.nconns--;
	if (!F.draining && F.nconns + 1 == F.max_clients)
		set_accepting(true);
	if (F.draining && F.nconns == 0)
		event_base_loopexit(F.base, NULL);
}

static struct bufferevent *tls_bev(struct event_base *base, void *arg)
{
	SSL *ssl = SSL_new(F.tls);
	if (!ssl)
		return NULL;
	SSL_set_ex_data(ssl, conn_idx, (void *)1);
	if (++F.nconns >= F.max_clients) {
		log_warn("http: %llu connections: pausing accepts", (unsigned long long)F.nconns);
		set_accepting(false);
	}
	struct bufferevent *b = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING,
							       BEV_OPT_CLOSE_ON_FREE);
	if (b)
		bufferevent_openssl_set_allow_dirty_shutdown(b, 1);
	return b;
}

/* The path of the request, or NULL when the target cannot be parsed. */
static const char *req_path(struct evhttp_request *req)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *p = u ? evhttp_uri_get_path(u) : NULL;
	return p && *p ? p : (u ? "/" : NULL);
}

static void on_https(struct evhttp_request *req, void *arg)
{
	const char *path = req_path(req);
	if (!path) {
		reply_status(req, 400, "Bad request target");
		return;
	}
	if (wellknown_serve(req, path, true) || jmap_front_serve(req, path) ||
	    webmail_serve(req, path))
		return;
	reply_status(req, 404, "Not found");
}

static void on_http(struct evhttp_request *req, void *arg)
{
	const char *path = req_path(req);
	if (!path) {
		reply_status(req, 400, "Bad request target");
		return;
	}
	if (!wellknown_serve(req, path, false))
		redirect_https(req);
}

static struct evhttp *make_server(bool tls, const char *name, uint64_t timeout, uint64_t max_hdr,
				  uint64_t max_body)
{
	struct evhttp *h = evhttp_new(F.base);
	if (!h)
		fatal("evhttp_new failed");
	evhttp_set_gencb(h, tls ? on_https : on_http, NULL);
	if (tls)
		evhttp_set_bevcb(h, tls_bev, NULL);
	evhttp_set_timeout(h, (int)timeout);
	evhttp_set_max_headers_size(h, (ev_ssize_t)max_hdr);
	/* plain HTTP carries no bodies worth reading: a redirect is all it gets */
	evhttp_set_max_body_size(h, (ev_ssize_t)(tls ? max_body : 64 * 1024));
	evhttp_set_default_content_type(h, NULL);
	evhttp_set_allowed_methods(h, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
				      EVHTTP_REQ_OPTIONS | (tls ? EVHTTP_REQ_DELETE | EVHTTP_REQ_PUT : 0));
	int fds[FRONT_MAX_LISTENERS];
	int n = daemon_listen_fds(name, fds, FRONT_MAX_LISTENERS - F.nbound);
	for (int i = 0; i < n; i++) {
		fd_nonblock(fds[i]);
		struct evhttp_bound_socket *bs = evhttp_accept_socket_with_handle(h, fds[i]);
		if (!bs)
			fatal("cannot listen on fd %d (%s)", fds[i], name);
		/* evhttp accepts; the pause when out of descriptors is ours */
		F.bound[F.nbound++] = listener_adopt(evhttp_bound_socket_get_listener(bs), name);
	}
	return n ? h : (evhttp_free(h), NULL);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	if (sig == SIGHUP && !F.draining) {
		/* the master started a new generation: stop accepting, finish */
		F.draining = true;
		set_accepting(false);
		jmap_front_drain();
		log_info("http: draining (%llu connection(s))", (unsigned long long)F.nconns);
	}
	if (sig == SIGTERM || F.nconns == 0)
		event_base_loopexit(F.base, NULL);
}

/* Keep-alive connections of a draining generation are closed by their
 * timeout at the latest; this bounds the wait for them. */
static void drain_tick(evutil_socket_t fd, short what, void *arg)
{
	static int ticks;
	if (F.draining && (F.nconns == 0 || ++ticks > 600))
		event_base_loopexit(F.base, NULL);
}

static void load_settings(const struct instance *in, const struct cfg *conf)
{
	F.base_url = https_base_url(in, conf);
	if (!F.base_url)
		fatal("httpd.conf: public_host %s is not a host name", cfg_str(conf, "public_host"));
	const char *ph = cfg_str(conf, "public_host");
	F.host = xstrdup(*ph ? ph : in->hostname);
	F.port_base = in->port_base;
	F.max_clients = cfg_int(conf, "max_sessions");
	F.auth_cache_s = cfg_int(conf, "auth_cache_time");
	F.session_idle_s = cfg_int(conf, "session_idle_time");
	F.event_ping_min_s = cfg_int(conf, "event_ping_min");
	F.request_timeout_s = cfg_int(conf, "request_timeout");
	jmap_limits_load(&F.lim, conf);
	F.sts_policy = mta_sts_enabled(in) ? mta_sts_policy(in) : NULL;
}

/* Enough descriptors for max_clients connections plus the channels. */
static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < F.max_clients * 2 + 64) {
		rl.rlim_cur = F.max_clients * 2 + 64;
		if (rl.rlim_cur > rl.rlim_max)
			rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int front_main(struct instance *in, struct cfg *conf)
{
	load_settings(in, conf);
	char why[512];
	char *cert = cfg_path(conf, "tls_cert"), *key = cfg_path(conf, "tls_key");
	F.tls = tls_server_ctx(cert, key, why, sizeof why);
	if (!F.tls)
		log_warn("http: HTTPS disabled: %s", why);
	free(cert);
	free(key);
	conn_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, conn_gone);
	raise_nofile();
	F.base = event_base_new();
	uint64_t timeout = cfg_int(conf, "request_timeout"), hdr = cfg_int(conf, "max_header_size");
	uint64_t body = F.lim.max_size_upload > F.lim.max_size_request ? F.lim.max_size_upload
								      : F.lim.max_size_request;
	F.http = make_server(false, "http", timeout, hdr, 0);
	if (F.tls)
		F.https = make_server(true, "https", timeout, hdr, body);
	if (!F.http && !F.https)
		fatal("no listening sockets (TERN_LISTEN_FDS has neither http nor https)");
	bool proxies = siteproxy_load(in);	/* reads the site secret: as root */
	bool chrooted = running_as_root();
	privdrop(ACCT_HTTPD, in->run_dir);
	F.run_prefix = chrooted ? xstrdup("") : xstrdup(in->run_dir);
	char *ap = xasprintf("%s/auth.sock", F.run_prefix);
	F.auth = auth_client_new(F.base, ap, 30000);
	free(ap);
	jmap_front_init();
	submit_front_init();
	/* Accepts HTTP(S), talks to authd, the mail role and (EmailSubmission,
	 * on worker threads) queued over Unix sockets (connections made as
	 * needed), and at a front-end to the mailbox hosts' HTTPS over TCP
	 * (siteproxy.c). No file once running: Landlock grants none, a
	 * library's read-only open just fails. */
	sandbox_enter("httpd", SB_THREADS | SB_ACCEPT | SB_UNIX | SB_FILES_READ |
				       (proxies ? SB_INET : 0), NULL, 0);
	struct event *evs[3] = {
		evsignal_new(F.base, SIGTERM, on_signal, NULL),
		evsignal_new(F.base, SIGHUP, on_signal, NULL),
		event_new(F.base, -1, EV_PERSIST, drain_tick, NULL),
	};
	struct timeval sec = { 1, 0 };
	event_add(evs[0], NULL);
	event_add(evs[1], NULL);
	event_add(evs[2], &sec);
	signal(SIGPIPE, SIG_IGN);
	log_info("http: serving (http %s, https %s)", F.http ? "on" : "off", F.https ? "on" : "off");
	daemon_ready();
	event_base_dispatch(F.base);
	return 0;
}
