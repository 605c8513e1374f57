/* login.c — the login role's event loop: listeners, connection lifecycle,
 * bounded line input, STLS. */
#include "pop3d/login.h"
#include "common/auth_client.h"
#include "common/daemon.h"
#include "common/linereader.h"
#include "common/listener.h"
#include "common/log.h"
#include "common/privdrop.h"
#include "common/sasl.h"
#include "common/sandbox.h"
#include "common/site_link.h"
#include "common/tls.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

void lsess_reply(struct lsess *s, const char *fmt, ...)
{
	va_list ap;
	struct evbuffer *out = bufferevent_get_output(s->bev);
	va_start(ap, fmt);
	evbuffer_add_vprintf(out, fmt, ap);
	va_end(ap);
	evbuffer_add(out, "\r\n", 2);
}

void lsess_free(struct lsess *s, const char *why)
{
	struct login *L = s->L;
	if (why)
		log_info("pop3 login: ip=%s tls=%s user=%s failed_logins=%u errors=%u secs=%llu end=%s",
			 s->ip, s->tls ? "yes" : "no", s->tried[0] ? s->tried : "-", s->failed_logins,
			 s->errors, (unsigned long long)((now_ms() - s->started_ms) / 1000), why);
	if (s->st == LS_AUTHWAIT)
		auth_client_cancel(L->auth, s->auth_id);
	if (s->ho)
		handoff_free(s->ho);
	site_proxy_free(s);
	if (s->login_timer)
		event_free(s->login_timer);
	if (s->inner)
		bufferevent_free(s->inner);
	if (s->bev)
		bufferevent_free(s->bev);
	free(s->user);
	free(s->canon);
	if (s->token)
		OPENSSL_cleanse(s->token, strlen(s->token));
	free(s->token);
	if (s->prev)
		s->prev->next = s->next;
	else
		L->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	L->nsessions--;
	free(s);
	if (L->stopping && L->nsessions == 0)
		event_base_loopexit(L->base, NULL);
}

void lsess_close(struct lsess *s, const char *why)
{
	s->st = LS_CLOSING;
	bufferevent_disable(s->bev, EV_READ);
	s->end = why;
	if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
		lsess_free(s, why);
}

bool lsess_error(struct lsess *s)
{
	if (++s->errors < s->L->conf->max_errors)
		return false;
	lsess_reply(s, "-ERR Too many errors, closing connection");
	lsess_close(s, "errors");
	return true;
}

static bool reading(const struct lsess *s)
{
	return s->st == LS_CMD || s->st == LS_SASL_PLAIN || s->st == LS_SASL_LOGIN_USER ||
	       s->st == LS_SASL_LOGIN_PASS;
}

/* Handle every complete line buffered, while the state allows reading. */
static void process_input(struct lsess *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	while (reading(s) && !line_output_full(bufferevent_get_output(s->bev))) {
		if (s->skipping) {
			if (!line_skip(in))
				return;
			s->skipping = false;
		}
		size_t max = s->st == LS_CMD ? s->L->conf->max_command : SASL_LINE_MAX;
		struct line l;
		enum line_status r = line_read(in, max, &l);
		if (r == LINE_MORE)
			return;
		if (r == LINE_TOOLONG) {
			s->skipping = !line_skip(in);
			log_info("pop3 login: ip=%s command line over %zu bytes", s->ip, max);
			lsess_reply(s, "-ERR Line too long");
			if (s->st != LS_CMD) {
				s->st = LS_CMD;	/* a SASL exchange ends with the error */
				free(s->user);
				s->user = NULL;
			}
			if (lsess_error(s))
				return;
			continue;
		}
		lsess_line(s, l.text, l.has_nul);
		OPENSSL_cleanse(l.text, l.len);	/* may hold a password */
		line_free(&l);
	}
}

void lsess_resume(struct lsess *s)
{
	bufferevent_enable(s->bev, EV_READ);
	bufferevent_trigger(s->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct lsess *s = arg;
	if (s->st == LS_PROXY) {
		proxy_client_read(s);
		return;
	}
	process_input(s);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct lsess *s = arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
		return;
	switch (s->st) {
	case LS_CLOSING:
		lsess_free(s, s->end);
		break;
	case LS_STLS:
		lsess_start_tls(s);
		break;
	case LS_HANDOFF_FLUSH:
		handoff_start(s);
		break;
	case LS_PROXY:
		proxy_client_drained(s);
		break;
	default:
		process_input(s);	/* commands that waited for the replies to go */
		break;
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct lsess *s = arg;
	if (what & BEV_EVENT_CONNECTED)
		return;		/* TLS handshake done */
	if (what & BEV_EVENT_TIMEOUT) {
		/* RFC 1939 3: an autologout closes without a response. */
		lsess_free(s, "idle timeout");
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		if (e) {
			char buf[160];
			ERR_error_string_n(e, buf, sizeof buf);
			log_info("pop3 login: ip=%s TLS error: %s", s->ip, buf);
		}
	}
	/* A relayed session is logged by its session process. */
	lsess_free(s, s->st == LS_PROXY ? NULL : (what & BEV_EVENT_EOF) ? "disconnect" : "connection error");
}

static void setup_bev(struct lsess *s)
{
	struct timeval idle = { s->L->conf->idle_timeout, 0 };
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	bufferevent_setwatermark(s->bev, EV_READ, 0, POP3_MAX_PENDING);
	bufferevent_set_timeouts(s->bev, &idle, &idle);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

static struct bufferevent *tls_bev(struct login *L, evutil_socket_t fd)
{
	SSL *ssl = SSL_new(L->ssl_ctx);
	if (!ssl)
		return NULL;
	struct bufferevent *b = bufferevent_openssl_socket_new(L->base, fd, ssl,
		BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (b)
		bufferevent_openssl_set_allow_dirty_shutdown(b, 1);
	return b;
}

void lsess_start_tls(struct lsess *s)
{
	/* Replace the plain bufferevent: anything the client pipelined after
	 * STLS dies with it (CVE-2011-0411 class), and the socket is reused. */
	evutil_socket_t fd = bufferevent_getfd(s->bev);
	bufferevent_setfd(s->bev, -1);
	bufferevent_free(s->bev);
	s->bev = tls_bev(s->L, fd);
	if (!s->bev) {
		close(fd);
		lsess_free(s, "TLS setup failed");
		return;
	}
	s->tls = true;
	free(s->user);
	s->user = NULL;
	s->st = LS_CMD;
	setup_bev(s);
}

static void on_login_timer(evutil_socket_t fd, short what, void *arg)
{
	struct lsess *s = arg;
	if (s->st == LS_PROXY || s->st == LS_HANDOFF)
		return;
	lsess_free(s, "login timeout");
}

static unsigned count_ip(struct login *L, const char *ip)
{
	unsigned n = 0;
	for (struct lsess *s = L->sessions; s; s = s->next)
		n += !strcmp(s->ip, ip);
	return n;
}

static void addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *a = sa->sa_family == AF_INET6 ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
						  : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
	if (!inet_ntop(sa->sa_family, a, buf, (socklen_t)len))
		strlcpy_t(buf, "unknown", len);
}

static void refuse(struct login *L, evutil_socket_t fd, bool tls, const char *ip, const char *why)
{
	static const char msg[] = "-ERR [SYS/TEMP] Too many connections, try again later\r\n";
	log_warn("pop3 login: ip=%s refused: %s", ip, why);
	if (!tls)
		(void)!write(fd, msg, sizeof msg - 1);
	close(fd);
}

static void on_accept(int fd, struct sockaddr *sa, int salen, void *arg)
{
	struct pop3_listener *pl = arg;
	struct login *L = pl->L;
	bool implicit = pl->tls;
	char ip[INET6_ADDRSTRLEN];
	addr_text(sa, ip, sizeof ip);
	if (L->nsessions >= L->conf->max_sessions)
		return refuse(L, fd, implicit, ip, "max_sessions reached");
	if (count_ip(L, ip) >= L->conf->max_sessions_per_ip)
		return refuse(L, fd, implicit, ip, "max_sessions_per_ip reached");
	/* The socket itself goes to the session process without TLS, and stays
	 * here with it: either way a vanished client ends the session. */
	if (fd_dead_peer_after(fd, L->conf->dead_client_timeout) < 0)
		log_warn("pop3 login: ip=%s: cannot set TCP keepalive: %m", ip);
	struct lsess *s = xcalloc(1, sizeof *s);
	s->L = L;
	strlcpy_t(s->ip, ip, sizeof s->ip);
	s->site_peer = L->site_secret[0] && netlist_has_sa(&L->site_nets, sa);
	/* a front-end of the site logs in with the site secret, not a password
	 * of the user (the internal hop's TLS: docs/SCALING.md) */
	s->plaintext_ok = (s->site_peer && !L->site.tls_verify) ||
			  netlist_has_sa(&L->conf->plaintext_nets, sa);
	s->started_ms = now_ms();
	s->next = L->sessions;
	if (L->sessions)
		L->sessions->prev = s;
	L->sessions = s;
	L->nsessions++;
	s->tls = implicit;
	s->bev = implicit ? tls_bev(L, fd)
			  : bufferevent_socket_new(L->base, fd, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (!s->bev) {
		close(fd);
		lsess_free(s, "out of memory");
		return;
	}
	setup_bev(s);
	s->login_timer = evtimer_new(L->base, on_login_timer, s);
	struct timeval lt = { L->conf->login_timeout, 0 };
	evtimer_add(s->login_timer, &lt);
	lsess_greet(s);
}

static void set_accepting(struct login *L, bool on)
{
	for (int i = 0; i < L->nlis; i++)
		listener_set_accepting(L->lis[i].l, on);
}

/* A TLS session holds the client socket and its end of the relay. */
static void raise_fd_limit(const struct pop3d_conf *c)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	rlim_t want = (rlim_t)c->max_sessions * 2 + 64;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < want)
		log_warn("pop3 login: max_sessions %u needs %llu file descriptors, the limit is %llu",
			 c->max_sessions, (unsigned long long)want, (unsigned long long)rl.rlim_cur);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct login *L = arg;
	if (sig == SIGTERM || sig == SIGINT) {
		event_base_loopexit(L->base, NULL);
		return;
	}
	/* SIGHUP: the master started a new generation on the same sockets. */
	log_info("pop3 login: reload: no new connections, %u sessions to finish", L->nsessions);
	L->stopping = true;
	set_accepting(L, false);
	if (L->nsessions == 0)
		event_base_loopexit(L->base, NULL);
}

static SSL_CTX *load_tls(const struct pop3d_conf *conf)
{
	char why[512];
	if (access(conf->tls_cert, R_OK) != 0) {
		log_warn("pop3 login: no certificate %s: STLS and pop3s disabled", conf->tls_cert);
		return NULL;
	}
	SSL_CTX *ctx = tls_server_ctx(conf->tls_cert, conf->tls_key, why, sizeof why);
	if (!ctx)
		fatal("pop3 login: TLS: %s", why);
	return ctx;
}

/* A host of a site reads its mailbox hosts and the site secret (as root):
 * true when it may proxy logins to them (then it needs TCP). */
static bool load_site(struct login *L, const struct instance *in)
{
	char why[512];
	bool proxies = site_login_load(in, &L->site, &L->site_secret, &L->site_nets);
	L->site_tls_ctx = site_link_tls_ctx(&L->site, why, sizeof why);
	if (!L->site_tls_ctx && why[0])
		fatal("%s", why);
	return proxies;
}

int pop3d_login_main(struct instance *in, const struct pop3d_conf *conf)
{
	struct login L = { .conf = conf, .hostname = in->hostname };
	/* One socket per `listen` address and kind. */
	int fds[POP3_MAX_LISTENERS];
	bool tls[POP3_MAX_LISTENERS];
	int n = daemon_listen_fds("pop3", fds, POP3_MAX_LISTENERS);
	int nplain = n;
	n += daemon_listen_fds("pop3s", fds + n, POP3_MAX_LISTENERS - n);
	for (int i = 0; i < n; i++)
		tls[i] = i >= nplain;
	if (n == 0)
		fatal("pop3 login: no listening socket (TERN_LISTEN_FDS has neither pop3 nor pop3s)");
	L.ssl_ctx = load_tls(conf);
	bool proxies = load_site(&L, in);
	for (int i = nplain; i < n && !L.ssl_ctx; i++) {
		log_warn("pop3 login: pop3s socket not served without a certificate");
		close(fds[i]);
		fds[i] = -1;
	}
	/* Everything that reads files happens before the chroot. */
	bool chrooted = running_as_root();
	char *auth_sock = chrooted ? xstrdup("/auth.sock") : instance_sock(in, "auth");
	L.mail_sock = chrooted ? xasprintf("/%s.sock", POP3_MAIL_SOCK) : instance_sock(in, POP3_MAIL_SOCK);
	raise_fd_limit(conf);
	tzset();
	unsigned char seed[16];
	if (RAND_bytes(seed, sizeof seed) != 1)
		fatal("pop3 login: no randomness");
	L.base = event_base_new();
	if (!L.base)
		fatal("event_base_new failed");
	privdrop(ACCT_POP3D, in->run_dir);
	L.auth = auth_client_new(L.base, auth_sock, 60000);
	for (int i = 0; i < n; i++) {
		if (fds[i] < 0)
			continue;
		fd_nonblock(fds[i]);
		struct pop3_listener *pl = &L.lis[L.nlis++];
		*pl = (struct pop3_listener){ &L, NULL, tls[i] };
		pl->l = listener_new(L.base, fds[i], tls[i] ? "pop3s" : "pop3", on_accept, pl);
	}
	struct event *sigs[3];
	int signo[3] = { SIGTERM, SIGINT, SIGHUP };
	for (int i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(L.base, signo[i], on_signal, &L);
		evsignal_add(sigs[i], NULL);
	}
	log_info("pop3 login: serving (%d socket(s), %d pop3s, tls %s)", L.nlis, n - nplain,
		 L.ssl_ctx ? "yes" : "no");
	/* A network parser: no files; authd and the mail role over their
	 * sockets; TCP only to the mailbox hosts a front-end proxies to. */
	sandbox_enter("pop3d", SB_ACCEPT | SB_UNIX | (proxies ? SB_INET : 0), NULL, 0);
	daemon_ready();
	event_base_dispatch(L.base);
	while (L.sessions)
		lsess_free(L.sessions, "shutdown");
	for (int i = 0; i < 3; i++)
		event_free(sigs[i]);
	for (int i = 0; i < L.nlis; i++)
		listener_free(L.lis[i].l);
	auth_client_free(L.auth);
	site_free(&L.site);
	SSL_CTX_free(L.site_tls_ctx);
	OPENSSL_cleanse(L.site_secret, strlen(L.site_secret));
	free(L.site_secret);
	netlist_free(&L.site_nets);
	free(auth_sock);
	free(L.mail_sock);
	event_base_free(L.base);
	if (L.ssl_ctx)
		SSL_CTX_free(L.ssl_ctx);
	return 0;
}
