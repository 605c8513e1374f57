/* login.c — the pre-authentication role: no mailbox access, chrooted in
 * run_dir. Speaks IMAP until authd accepts a login, then hands the connection
 * to the mail role (handoff.c). */
#include "imapd/imapd.h"
#include "common/auth_client.h"
#include "imapd/id.h"
#include "imapd/login.h"
#include "common/auth_proto.h"
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
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct login_ctx L;

const struct login_ctx *login_ctx(void)
{
	return &L;
}

static void reply(struct lclient *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(struct lclient *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(c->bev), fmt, ap);
	va_end(ap);
	evbuffer_add(bufferevent_get_output(c->bev), "\r\n", 2);
}

static const char *caps(struct lclient *c)
{
	static char buf[256];
	bool auth_ok = c->tls || c->plaintext_ok;
	snprintf(buf, sizeof buf, "%s%s%s", CAPS_BASE, c->tls ? "" : (L.tls_ctx ? " STARTTLS" : ""),
		 auth_ok ? " AUTH=PLAIN AUTH=LOGIN" : " LOGINDISABLED");
	return buf;
}

void lclient_free(struct lclient *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		L.clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (c->deadline)
		event_free(c->deadline);
	if (c->auth_id)
		auth_client_cancel(L.auth, c->auth_id);
	site_proxy_cancel(c);
	if (c->bev)
		bufferevent_free(c->bev);
	cr_free(&c->cr);
	free(c->sasl_user);
	free(c->tag);
	free(c);
	L.nclients--;
}

/* Close once the output is flushed. */
static void close_after_flush(struct lclient *c)
{
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		lclient_free(c);
}

void login_auth_unavailable(struct lclient *c, const char *text)
{
	reply(c, "%s NO [UNAVAILABLE] %s", c->tag, text);
	c->state = LC_CMD;
	bufferevent_enable(c->bev, EV_READ);
	login_process(c);
}

static void on_auth(const struct auth_reply *r, void *arg)
{
	struct lclient *c = arg;
	const char *user = r->user ? r->user : "", *token = r->token ? r->token : "";
	int result = r->tempfail ? AUTH_TEMPFAIL : (int)r->result;
	c->auth_id = 0;
	if (result == AUTH_OK && r->host && r->host[0]) {
		/* stored on another host of the site: the session is proxied there */
		if (site_proxy_start(c, user, r->host) == 0)
			return;	/* the outcome comes later */
		return login_auth_unavailable(c, "Mailbox host unavailable, try later");
	} else if (result == AUTH_OK) {
		log_info("imap login: user=%s client=%s tls=%s%s", user, c->ip, c->tls ? "yes" : "no",
			 c->site_peer ? " via=site" : "");
		if (handoff(c, user, token) == 0)
			return;	/* c now belongs to the proxy, or is freed */
		return login_auth_unavailable(c, "Mail service unavailable, try later");
	} else if (result == AUTH_TEMPFAIL) {
		return login_auth_unavailable(c, "Authentication service unavailable");
	} else {
		log_info("imap login failed: client=%s result=%d", c->ip, result);
		reply(c, "%s NO [AUTHENTICATIONFAILED] Authentication failed", c->tag);
		if (++c->failures >= 3) {
			reply(c, "* BYE Too many failures");
			close_after_flush(c);
			return;
		}
	}
	c->state = LC_CMD;
	bufferevent_enable(c->bev, EV_READ);
	login_process(c);
}

static void start_auth(struct lclient *c, const char *user, const char *pass)
{
	c->state = LC_AUTHWAIT;
	bufferevent_disable(c->bev, EV_READ);
	c->auth_id = auth_client_login(L.auth, "imap", user, pass, c->ip, on_auth, c);
}

/* A bad or cancelled AUTHENTICATE: back to commands, nothing kept. */
static void sasl_end(struct lclient *c, const char *why)
{
	c->state = LC_CMD;
	free(c->sasl_user);
	c->sasl_user = NULL;
	reply(c, "%s BAD %s", c->tag, why);
}

/* A front-end logs in for a user with the site secret (siteproxy.c). */
static bool site_auth(struct lclient *c, const char *b64)
{
	char *authz, *secret;
	if (!c->site_peer || !sasl_plain_site(b64, &authz, &secret))
		return false;
	if (L.site.tls_verify && !c->tls) {
		log_warn("imap: site login refused: user=%s client=%s: no TLS (site_tls = verify)",
			 authz, c->ip);
		explicit_bzero(secret, strlen(secret));
		free(secret);
		free(authz);
		c->state = LC_CMD;
		reply(c, "%s NO [PRIVACYREQUIRED] The site login needs TLS (site_tls = verify)",
		      c->tag);
		return true;
	}
	c->state = LC_AUTHWAIT;
	bufferevent_disable(c->bev, EV_READ);
	c->auth_id = auth_client_site_login(L.auth, "imap", authz, secret, c->ip, on_auth, c);
	explicit_bzero(secret, strlen(secret));
	free(secret);
	free(authz);
	return true;
}

/* AUTHENTICATE PLAIN: base64("authzid\0authcid\0password") */
static void sasl_plain_response(struct lclient *c, const char *b64)
{
	char *user, *pass;
	if (site_auth(c, b64))
		return;
	if (!sasl_plain(b64, &user, &pass))
		return sasl_end(c, "Malformed PLAIN response");
	start_auth(c, user, pass);
	explicit_bzero(pass, strlen(pass));
	free(user);
	free(pass);
}

/* AUTHENTICATE LOGIN (draft-murchison-sasl-login): the user name, then the
 * password, each base64 after a "+ " prompt; an initial response (SASL-IR)
 * is the user name. */
static void sasl_login_user(struct lclient *c, const char *b64)
{
	free(c->sasl_user);
	c->sasl_user = NULL;
	if (!sasl_login_field(b64, &c->sasl_user))
		return sasl_end(c, "Malformed LOGIN response");
	c->state = LC_SASL_LOGIN_PASS;
	reply(c, "+ UGFzc3dvcmQ6");	/* "Password:" */
}

static void sasl_login_pass(struct lclient *c, const char *b64)
{
	char *pass;
	if (!sasl_login_field(b64, &pass))
		return sasl_end(c, "Malformed LOGIN response");
	start_auth(c, c->sasl_user, pass);
	explicit_bzero(pass, strlen(pass));
	free(pass);
	free(c->sasl_user);
	c->sasl_user = NULL;
}

/* One response line of an AUTHENTICATE in progress. */
static void sasl_line(struct lclient *c, const char *text)
{
	enum lc_state st = c->state;
	c->state = LC_CMD;
	if (!strcmp(text, "*"))
		return sasl_end(c, "Authentication cancelled");
	if (st == LC_SASL_PLAIN)
		sasl_plain_response(c, text);
	else if (st == LC_SASL_LOGIN_USER)
		sasl_login_user(c, text);
	else
		sasl_login_pass(c, text);
}

static void cmd_login(struct lclient *c, struct ip *ip)
{
	if (!c->tls && !c->plaintext_ok) {
		reply(c, "%s NO [PRIVACYREQUIRED] Use STARTTLS first", c->tag);
		return;
	}
	char *user = NULL, *pass = NULL;
	if (ip_sp(ip) && (user = ip_astring(ip, NULL)) && ip_sp(ip) && (pass = ip_astring(ip, NULL)) &&
	    ip_eol(ip))
		start_auth(c, user, pass);
	else
		reply(c, "%s BAD Syntax: LOGIN user password", c->tag);
	if (pass)
		explicit_bzero(pass, strlen(pass));
	free(user);
	free(pass);
}

static void cmd_authenticate(struct lclient *c, struct ip *ip)
{
	char *mech = NULL, *ir = NULL;
	if (!ip_sp(ip) || !(mech = ip_atom(ip)) || !(ip_eol(ip) || (ip_sp(ip) && (ir = ip_atom(ip)) && ip_eol(ip)))) {
		reply(c, "%s BAD Syntax: AUTHENTICATE mechanism [initial-response]", c->tag);
	} else if (strcasecmp(mech, "PLAIN") && strcasecmp(mech, "LOGIN")) {
		reply(c, "%s NO Unsupported authentication mechanism", c->tag);
	} else if (!c->tls && !c->plaintext_ok) {
		reply(c, "%s NO [PRIVACYREQUIRED] Use STARTTLS first", c->tag);
	} else {
		bool plain = !strcasecmp(mech, "PLAIN");
		c->state = plain ? LC_SASL_PLAIN : LC_SASL_LOGIN_USER;
		if (ir)		/* RFC 4959: "=" is an empty initial response */
			sasl_line(c, !strcmp(ir, "=") ? "" : ir);
		else
			reply(c, plain ? "+ " : "+ VXNlcm5hbWU6");	/* "Username:" */
	}
	free(mech);
	if (ir)
		explicit_bzero(ir, strlen(ir));
	free(ir);
}

static void cmd_starttls(struct lclient *c, struct ip *ip)
{
	if (c->tls || !L.tls_ctx) {
		reply(c, "%s BAD TLS is %s", c->tag, c->tls ? "already active" : "not available");
		return;
	}
	if (!ip_eol(ip)) {
		reply(c, "%s BAD Syntax: STARTTLS", c->tag);
		return;
	}
	reply(c, "%s OK Begin TLS negotiation now", c->tag);
	/* anything pipelined after STARTTLS is discarded (CVE-2011-0411 class) */
	struct evbuffer *in = bufferevent_get_input(c->bev);
	evbuffer_drain(in, evbuffer_get_length(in));
	cr_reset(&c->cr);
	SSL *ssl = SSL_new(L.tls_ctx);
	struct bufferevent *tb = bufferevent_openssl_filter_new(
		L.base, c->bev, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (!tb) {
		SSL_free(ssl);
		close_after_flush(c);
		return;
	}
	c->bev = tb;
	c->tls = true;
	login_setup_bev(c);
}

static void cmd_id(struct lclient *c, struct ip *ip)
{
	char origin[INET6_ADDRSTRLEN] = "";
	/* the client's address from a front-end; with site_tls = verify only
	 * inside TLS, as the site login itself */
	bool believed = c->site_peer && (c->tls || !L.site.tls_verify);
	const char *bad = id_read(ip, believed ? origin : NULL, sizeof origin);
	if (bad) {
		reply(c, "%s BAD %s", c->tag, bad);
		return;
	}
	if (origin[0]) {	/* a front-end says whom it serves */
		log_info("imap: front-end %s serves client %s", c->ip, origin);
		strlcpy_t(c->ip, origin, sizeof c->ip);
	}
	reply(c, ID_RESPONSE);
	reply(c, "%s OK ID completed", c->tag);
}

/* One complete command in c->cr.cmd. */
static void handle_command(struct lclient *c)
{
	size_t len = evbuffer_get_length(c->cr.cmd);
	const char *buf = (const char *)evbuffer_pullup(c->cr.cmd, -1);
	struct ip ip;
	ip_init(&ip, buf, len);
	free(c->tag);
	c->tag = ip_tag(&ip);
	char *cmd = NULL;
	if (!c->tag || !ip_sp(&ip) || !(cmd = ip_atom(&ip))) {
		reply(c, "%s BAD Missing or invalid tag or command", c->tag ? c->tag : "*");
		free(cmd);
		return;
	}
	if (!strcasecmp(cmd, "CAPABILITY") && ip_eol(&ip)) {
		reply(c, "* CAPABILITY %s", caps(c));
		reply(c, "%s OK CAPABILITY completed", c->tag);
	} else if (!strcasecmp(cmd, "NOOP") && ip_eol(&ip)) {
		reply(c, "%s OK NOOP completed", c->tag);
	} else if (!strcasecmp(cmd, "LOGOUT") && ip_eol(&ip)) {
		reply(c, "* BYE Logging out");
		reply(c, "%s OK LOGOUT completed", c->tag);
		close_after_flush(c);
	} else if (!strcasecmp(cmd, "STARTTLS")) {
		cmd_starttls(c, &ip);
	} else if (!strcasecmp(cmd, "LOGIN")) {
		cmd_login(c, &ip);
	} else if (!strcasecmp(cmd, "AUTHENTICATE")) {
		cmd_authenticate(c, &ip);
	} else if (!strcasecmp(cmd, "ID")) {
		cmd_id(c, &ip);
	} else {
		if (++c->bad_commands > 10) {
			reply(c, "* BYE Too many invalid commands");
			close_after_flush(c);
		} else {
			reply(c, "%s BAD Command unknown or not valid before login", c->tag);
		}
	}
	free(cmd);
}

void login_process(struct lclient *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	while (c->state != LC_AUTHWAIT) {
		if (c->closing || line_output_full(bufferevent_get_output(c->bev)))
			return;
		if (c->state != LC_CMD) {
			struct line l;
			enum line_status st = line_read(in, SASL_LINE_MAX, &l);
			if (st == LINE_MORE)
				return;
			if (st == LINE_TOOLONG) {
				line_skip(in);
				sasl_end(c, "Response too long");
				continue;
			}
			sasl_line(c, l.text);
			explicit_bzero(l.text, l.len);
			line_free(&l);
			continue;
		}
		char tag[64];
		enum cr_status st = cr_feed(&c->cr, in, tag, sizeof tag);
		if (st == CR_MORE)
			return;
		if (st == CR_CONTINUE) {
			reply(c, "+ Ready for literal data");
			continue;
		}
		if (st == CR_TOOLONG || st == CR_LITERAL_TOOBIG) {
			reply(c, "%s %s", tag, st == CR_TOOLONG ? "BAD Command line too long"
							       : "NO [TOOBIG] Literal too large");
			continue;
		}
		if (st == CR_FATAL) {
			reply(c, "* BYE Literal too large");
			close_after_flush(c);
			return;
		}
		handle_command(c);
		cr_reset(&c->cr);
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	login_process(arg);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct lclient *c = arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) != 0)
		return;
	if (c->closing)
		lclient_free(c);
	else
		login_process(c);	/* commands that waited for the replies to go */
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct lclient *c = arg;
	if (what & BEV_EVENT_TIMEOUT && !c->closing) {
		reply(c, "* BYE Autologout; idle for too long");
		close_after_flush(c);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		lclient_free(c);
}

void login_setup_bev(struct lclient *c)
{
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	struct timeval tv = { (time_t)L.login_timeout, 0 };
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	/* Input waits here while replies are held back (line_output_full): room
	 * for one whole line, so an overlong one is still recognised. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, cr_input_room(&c->cr));
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* Logging in has a deadline: a client sending a byte now and then does not
 * hold a pre-login connection for ever. */
static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct lclient *c = arg;
	if (c->closing)
		return;
	log_info("imap login: ip=%s login timeout", c->ip);
	reply(c, "* BYE Login timeout");
	close_after_flush(c);
}

static uint64_t clients_from(const char *ip)
{
	uint64_t n = 0;
	for (const struct lclient *c = L.clients; c; c = c->next)
		n += !strcmp(c->ip, ip);
	return n;
}

/* One best-effort line before any buffering (not on imaps: it would not be
 * TLS), then close. */
static void refuse_client(int fd, const char *ip, const char *why, bool implicit_tls)
{
	static const char bye[] = "* BYE [UNAVAILABLE] Too many connections from your address\r\n";
	log_warn("imap: refusing connection from %s (%s)", ip, why);
	if (!implicit_tls)
		(void)!write(fd, bye, sizeof bye - 1);
	close(fd);
}

static void on_accept(int fd, struct sockaddr *sa, int salen, void *arg)
{
	bool implicit_tls = arg != NULL;
	if (L.nclients >= L.max_clients || (implicit_tls && !L.tls_ctx)) {
		log_warn("imap: refusing connection (%s)", implicit_tls && !L.tls_ctx ? "no TLS" : "too many clients");
		close(fd);
		return;
	}
	/* The socket goes to the session process without TLS, and stays here
	 * with it: either way a vanished client ends the session. */
	if (fd_dead_peer_after(fd, (unsigned)L.dead_client_timeout) < 0)
		log_warn("imap: cannot set TCP keepalive: %m");
	struct lclient *c = xcalloc(1, sizeof *c);
	L.nclients++;
	c->fd = fd;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, c->ip, sizeof c->ip);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, c->ip, sizeof c->ip);
	c->site_peer = L.site_secret && L.site_secret[0] && netlist_has_sa(&L.site_nets, sa);
	/* a front-end of the site logs in with the site secret, not a password
	 * of the user (the internal hop's TLS: docs/SCALING.md) */
	c->plaintext_ok = (c->site_peer && !L.site.tls_verify) ||
			  netlist_has_sa(&L.plaintext_nets, sa);
	if (clients_from(c->ip) >= L.max_per_ip) {
		refuse_client(fd, c->ip, "max_sessions_per_ip reached", implicit_tls);
		free(c);
		L.nclients--;
		return;
	}
	c->next = L.clients;
	if (c->next)
		c->next->prev = c;
	L.clients = c;
	c->deadline = evtimer_new(L.base, on_deadline, c);
	struct timeval dl = { (time_t)L.login_timeout, 0 };
	evtimer_add(c->deadline, &dl);
	cr_init(&c->cr, L.max_line, L.max_line, L.max_line);
	if (implicit_tls) {
		c->bev = bufferevent_openssl_socket_new(L.base, fd, SSL_new(L.tls_ctx),
							BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
		c->tls = true;
	} else {
		c->bev = bufferevent_socket_new(L.base, fd, BEV_OPT_CLOSE_ON_FREE);
	}
	login_setup_bev(c);
	reply(c, "* OK [CAPABILITY %s] %s IMAP service ready", caps(c), L.hostname);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	if (sig == SIGHUP) {
		/* the master started a new generation: stop accepting, finish sessions */
		for (int i = 0; i < L.nlis; i++)
			listener_set_accepting(L.lis[i], false);
		L.draining = true;
		log_info("imap login: draining");
	}
	if (sig == SIGTERM || (L.draining && L.nclients == 0 && L.nproxies == 0))
		event_base_loopexit(L.base, NULL);
}

static void check_drained(evutil_socket_t fd, short what, void *arg)
{
	if (L.draining && L.nclients == 0 && L.nproxies == 0)
		event_base_loopexit(L.base, NULL);
}

/* A host of a site reads its mailbox hosts and the site secret (as root):
 * true when it may proxy logins to them (then it needs TCP). */
static bool login_load_site(const struct instance *in)
{
	char why[512];
	bool proxies = site_login_load(in, &L.site, &L.site_secret, &L.site_nets);
	L.site_tls_ctx = site_link_tls_ctx(&L.site, why, sizeof why);
	if (!L.site_tls_ctx && why[0])
		fatal("%s", why);
	return proxies;
}

int login_main(struct instance *in, struct cfg *conf)
{
	L.hostname = in->hostname;
	netlist_from_cfg(&L.plaintext_nets, conf, "plaintext_auth_networks");
	bool proxies = login_load_site(in);
	L.max_line = cfg_int(conf, "max_command_line");
	L.max_clients = cfg_int(conf, "max_sessions");
	L.max_per_ip = cfg_int(conf, "max_sessions_per_ip");
	L.login_timeout = cfg_int(conf, "login_timeout");
	L.dead_client_timeout = cfg_int(conf, "dead_client_timeout");
	char why[512];
	char *cert = cfg_path(conf, "tls_cert"), *key = cfg_path(conf, "tls_key");
	L.tls_ctx = tls_server_ctx(cert, key, why, sizeof why);
	if (!L.tls_ctx)
		log_warn("imap: TLS disabled: %s", why);
	free(cert);
	free(key);
	/* One socket per `listen` address and kind. */
	int fds[IMAP_MAX_LISTENERS];
	int nplain = daemon_listen_fds("imap", fds, IMAP_MAX_LISTENERS);
	int n = nplain + daemon_listen_fds("imaps", fds + nplain, IMAP_MAX_LISTENERS - nplain);
	if (n == 0)
		fatal("no listening sockets (TERN_LISTEN_FDS has neither imap nor imaps)");
	bool chrooted = running_as_root();
	privdrop(ACCT_IMAPD, in->run_dir);
	L.run_prefix = chrooted ? xstrdup("") : xstrdup(in->run_dir);
	char *ap = xasprintf("%s/auth.sock", L.run_prefix);
	L.base = event_base_new();
	L.auth = auth_client_new(L.base, ap, 30000);
	free(ap);
	for (int i = 0; i < n; i++) {
		fd_nonblock(fds[i]);
		/* The callback argument says implicit TLS (imaps) or not. */
		L.lis[L.nlis++] = listener_new(L.base, fds[i], i >= nplain ? "imaps" : "imap", on_accept,
					       i >= nplain ? (void *)1 : NULL);
	}
	struct event *sigs[3] = {
		evsignal_new(L.base, SIGTERM, on_signal, NULL),
		evsignal_new(L.base, SIGHUP, on_signal, NULL),
		event_new(L.base, -1, EV_PERSIST, check_drained, NULL),
	};
	struct timeval sec = { 1, 0 };
	event_add(sigs[0], NULL);
	event_add(sigs[1], NULL);
	event_add(sigs[2], &sec);
	/* A network parser: no files; authd and the mail role over their sockets. */
	sandbox_enter("imapd", SB_ACCEPT | SB_UNIX | (proxies ? SB_INET : 0), NULL, 0);
	log_info("imap login: serving (%d imap, %d imaps socket(s))", nplain, n - nplain);
	daemon_ready();
	event_base_dispatch(L.base);
	return 0;
}
