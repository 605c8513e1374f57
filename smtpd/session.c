/* session.c — an SMTP session: accepting, reading commands, the command table
 * (each command with the states it is valid in and its action), replies,
 * errors, timeouts and closing. The transaction lives in txn.c, AUTH in auth.c,
 * TLS in tlsio.c. */
#include "smtpd/session.h"
#include "smtpd/peer.h"
#include "common/auth_client.h"
#include "common/linereader.h"
#include "common/log.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ANY_STATE (ST_GREET | ST_HELO | ST_MAIL | ST_RCPT | ST_BDAT)

static void cmd_helo(struct session *s, const char *arg);
static void cmd_ehlo(struct session *s, const char *arg);
static void cmd_rset(struct session *s, const char *arg);
static void cmd_noop(struct session *s, const char *arg);
static void cmd_quit(struct session *s, const char *arg);
static void cmd_vrfy(struct session *s, const char *arg);
static void cmd_expn(struct session *s, const char *arg);
static void cmd_help(struct session *s, const char *arg);

struct command {
	enum smtp_verb verb;
	unsigned states;	/* where the command is valid; elsewhere 503 */
	void (*action)(struct session *, const char *arg);
};

static const struct command commands[] = {
	{ V_HELO, ANY_STATE, cmd_helo },
	{ V_EHLO, ANY_STATE, cmd_ehlo },
	{ V_STARTTLS, ST_HELO, cmd_starttls },
	{ V_AUTH, ST_HELO, cmd_auth },
	{ V_MAIL, ST_HELO, cmd_mail },
	{ V_RCPT, ST_MAIL | ST_RCPT, cmd_rcpt },
	{ V_DATA, ST_MAIL | ST_RCPT, cmd_data },
	/* BDAT checks its state itself: a refused chunk must still be read. */
	{ V_BDAT, ANY_STATE, cmd_bdat },
	{ V_BURL, ST_RCPT | ST_BDAT, cmd_burl },
	{ V_RSET, ANY_STATE, cmd_rset },
	{ V_NOOP, ANY_STATE, cmd_noop },
	{ V_QUIT, ANY_STATE, cmd_quit },
	{ V_VRFY, ANY_STATE, cmd_vrfy },
	{ V_EXPN, ANY_STATE, cmd_expn },
	{ V_HELP, ANY_STATE, cmd_help },
};

static const char *const kind_names[L_COUNT] = { "smtp", "submission", "smtps", "smtp-internal" };

const char *kind_name(enum listener_kind k)
{
	return kind_names[k];
}

/* Sessions come from two pools, each with its own limits: mail from the
 * world on port 25, and users submitting on 587/465. */
static int pool_of(enum listener_kind k)
{
	return k == L_SMTP ? 0 : 1;
}

/* ---- replies, errors, closing ---- */

void session_reply(struct session *s, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof line - 3)
		n = (int)sizeof line - 3;
	log_debug("session %llx: > %s", (unsigned long long)s->id, line);
	memcpy(line + n, "\r\n", 2);
	if (s->bev)
		bufferevent_write(s->bev, line, (size_t)n + 2);
}

void session_error(struct session *s)
{
	if (++s->errors >= s->srv->conf.max_errors && !(s->state & ST_CLOSING)) {
		session_reply(s, "421 4.7.0 %s Too many errors, closing connection", s->srv->hostname);
		session_close(s, "too many errors");
	}
}

static void session_free(struct session *s)
{
	struct server *srv = s->srv;
	/* The one line per session (connect, TLS and AUTH details are debug). */
	log_info("session %llx: disconnect client=%s port=%s helo=%s tls=%s%s%s auth=%s messages=%u "
		 "errors=%u duration=%llums reason=%s", (unsigned long long)s->id, s->ip,
		 kind_name(s->kind), s->helo[0] ? s->helo : "-", s->tls ? s->tls_version : "no",
		 s->tls ? "/" : "", s->tls ? s->tls_cipher : "", s->auth_user ? s->auth_user : "-", s->messages, s->errors,
		 (unsigned long long)(now_ms() - s->start_ms), s->end_reason ? s->end_reason : "quit");
	if (s->auth_req)
		auth_client_cancel(srv->auth, s->auth_req);
	peer_cancel(srv->queue, s);
	txn_free(s);
	if (s->bev)
		bufferevent_free(s->bev);
	if (!s->bev_owns_fd && s->fd >= 0) {
		/* Unread input (say, commands pipelined after QUIT) would make close
		 * send a reset, which can destroy our last reply in flight. */
		char junk[4096];
		for (int i = 0; i < 16 && recv(s->fd, junk, sizeof junk, MSG_DONTWAIT) > 0; i++)
			;
		close(s->fd);
	}
	free(s->auth_user);
	free(s->auth_login_user);
	event_free(s->reap_ev);
	if (s->prev)
		s->prev->next = s->next;
	else
		srv->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	srv->nsessions--;
	srv->npool[pool_of(s->kind)]--;
	free(s);
	if (srv->draining && srv->nsessions == 0)
		event_base_loopexit(srv->base, NULL);
}

/* SIGTERM: tell every client (best effort, plain connections only: a TLS one
 * cannot be written outside its bufferevent) and free every session now. A
 * transaction in progress is lost with its connection, as the client expects
 * after 421; queued drops the uncommitted file when our connection closes. */
void session_shutdown_all(struct server *srv)
{
	while (srv->sessions) {
		struct session *s = srv->sessions;
		if (s->bev && !s->bev_owns_fd && !(s->state & ST_CLOSING)) {
			session_reply(s, "421 4.3.2 %s Service shutting down", srv->hostname);
			/* The bufferevent freezes its output's start (only it drains it);
			 * it is freed right below, so write its output ourselves. */
			struct evbuffer *out = bufferevent_get_output(s->bev);
			evbuffer_unfreeze(out, 1);
			(void)evbuffer_write(out, s->fd);
		}
		if (!s->end_reason)
			s->end_reason = "shutdown";
		session_free(s);	/* also drops a pending reap */
	}
}

static void reap_cb(evutil_socket_t fd, short ev, void *arg)
{
	session_free(arg);
}

static void schedule_reap(struct session *s)
{
	static const struct timeval now = { 0, 0 };
	if (s->reaping)
		return;
	s->reaping = true;
	evtimer_add(s->reap_ev, &now);
}

/* Close once the replies already written have been sent. */
void session_close(struct session *s, const char *reason)
{
	if (s->state & ST_CLOSING)
		return;
	s->state = ST_CLOSING;
	s->end_reason = reason;
	s->busy = false;
	if (!s->bev || evbuffer_get_length(bufferevent_get_output(s->bev)) == 0) {
		schedule_reap(s);
		return;
	}
	bufferevent_disable(s->bev, EV_READ);
}

/* The connection is gone: nothing more can be sent. */
static void session_lost(struct session *s, const char *reason)
{
	if (!(s->state & ST_CLOSING)) {
		s->state = ST_CLOSING;
		s->end_reason = reason;
	}
	s->busy = false;
	if (s->bev)
		bufferevent_disable(s->bev, EV_READ | EV_WRITE);
	schedule_reap(s);	/* the write callback may never come now */
}

/* ---- simple commands ---- */

static void cmd_helo(struct session *s, const char *arg)
{
	if (!parse_helo(arg, s->helo, sizeof s->helo)) {
		session_reply(s, "501 5.5.4 Syntax: HELO hostname");
		session_error(s);
		return;
	}
	session_reset_txn(s);
	s->esmtp = false;
	s->state = ST_HELO;
	session_reply(s, "250 %s", s->srv->hostname);
}

bool session_auth_allowed(const struct session *s)
{
	return s->tls || s->plaintext_ok;
}

static void cmd_ehlo(struct session *s, const char *arg)
{
	struct smtpd_conf *c = &s->srv->conf;
	if (!parse_helo(arg, s->helo, sizeof s->helo)) {
		session_reply(s, "501 5.5.4 Syntax: EHLO hostname");
		session_error(s);
		return;
	}
	session_reset_txn(s);
	s->esmtp = true;
	s->state = ST_HELO;
	session_reply(s, "250-%s Hello %s [%s]", s->srv->hostname, s->helo, s->ip);
	session_reply(s, "250-PIPELINING");
	session_reply(s, "250-SIZE %llu", (unsigned long long)c->max_message_size);
	session_reply(s, "250-8BITMIME");
	session_reply(s, "250-SMTPUTF8");
	session_reply(s, "250-ENHANCEDSTATUSCODES");
	if (!s->tls && s->srv->tls)
		session_reply(s, "250-STARTTLS");
	if (session_auth_allowed(s) && !s->auth_user && !s->site_peer)
		session_reply(s, "250-AUTH PLAIN LOGIN");
	session_reply(s, "250-CHUNKING");
	/* RFC 8689 2: only inside TLS, where the promise can be kept */
	if (s->tls)
		session_reply(s, "250-REQUIRETLS");
	if (s->auth_user)	/* RFC 4468 5: only once the client is authenticated */
		session_reply(s, "250-BURL imap");
	session_reply(s, "250 DSN");
}

static void cmd_rset(struct session *s, const char *arg)
{
	session_reset_txn(s);
	if (s->state != ST_GREET)
		s->state = ST_HELO;
	session_reply(s, "250 2.0.0 Ok");
}

static void cmd_noop(struct session *s, const char *arg)
{
	session_reply(s, "250 2.0.0 Ok");
}

static void cmd_quit(struct session *s, const char *arg)
{
	session_reply(s, "221 2.0.0 %s Bye", s->srv->hostname);
	session_close(s, "quit");
}

static void cmd_vrfy(struct session *s, const char *arg)
{
	/* Never confirm addresses to strangers (RFC 5321 7.3). */
	session_reply(s, "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery");
}

static void cmd_expn(struct session *s, const char *arg)
{
	session_reply(s, "502 5.5.1 EXPN not available");
}

static void cmd_help(struct session *s, const char *arg)
{
	session_reply(s, "214 2.0.0 See RFC 5321 (tern)");
}

/* ---- input ---- */

static void bad_sequence(struct session *s, enum smtp_verb v)
{
	if (s->state == ST_GREET)
		session_reply(s, "503 5.5.1 Error: send HELO/EHLO first");
	else if (v == V_MAIL && (s->state & (ST_MAIL | ST_RCPT | ST_BDAT)))
		session_reply(s, "503 5.5.1 Error: nested MAIL command");
	else if (v == V_RCPT || v == V_DATA)
		session_reply(s, "503 5.5.1 Error: need MAIL command");
	else
		session_reply(s, "503 5.5.1 Error: bad sequence of commands");
	session_error(s);
}

static void handle_line(struct session *s, const struct line *l)
{
	if (l->has_nul || l->bare_cr) {
		session_reply(s, "500 5.5.2 Error: invalid characters in command");
		session_error(s);
		return;
	}
	if (s->state == ST_AUTH) {
		auth_continue(s, l->text);
		return;
	}
	struct smtp_cmd cmd;
	parse_command(l->text, &cmd);
	log_debug("session %llx: < %s", (unsigned long long)s->id,
		  cmd.verb == V_AUTH ? "AUTH ..." : l->text);
	/* ESMTP parameters lengthen MAIL and RCPT: SIZE (RFC 1870 +26), ENVID and
	 * ORCPT (RFC 3461 +100, +500), AUTH= (RFC 4954 +500). */
	size_t limit = s->srv->conf.max_command_line +
		       (cmd.verb == V_MAIL || cmd.verb == V_RCPT ? 1024 : 0);
	if (cmd.verb != V_AUTH && l->len + 2 > limit) {
		session_reply(s, "500 5.5.2 Error: line too long");
		session_error(s);
		return;
	}
	for (size_t i = 0; i < ARRAY_LEN(commands); i++) {
		if (commands[i].verb != cmd.verb)
			continue;
		if (!(commands[i].states & s->state))
			bad_sequence(s, cmd.verb);
		else
			commands[i].action(s, cmd.arg);
		return;
	}
	session_reply(s, "500 5.5.1 Error: command not recognized");
	session_error(s);
}

static bool body_pending(const struct session *s)
{
	return s->state == ST_DATA || s->chunk.reading;
}

static void update_timeout(struct session *s)
{
	const struct smtpd_conf *c = &s->srv->conf;
	session_set_timeout(s, body_pending(s) ? c->data_timeout : c->command_timeout);
}

/* Work through buffered input until it runs out or an answer is awaited. */
static void process(struct session *s)
{
	struct evbuffer *in = bufferevent_get_input(s->bev);
	struct evbuffer *out = bufferevent_get_output(s->bev);
	while (!s->busy && !(s->state & (ST_CLOSING | ST_TLS)) && !line_output_full(out)) {
		if (body_pending(s)) {
			if (!txn_input(s, in))
				break;
			continue;
		}
		struct line l;
		enum line_status r = line_read(in, SMTP_AUTH_MAX + 2, &l);
		if (r == LINE_MORE)
			break;
		if (r == LINE_TOOLONG) {
			if (!s->skipping) {
				session_reply(s, "500 5.5.2 Error: line too long");
				session_error(s);
			}
			s->skipping = !line_skip(in);
			continue;
		}
		if (s->skipping) {	/* the tail of an overlong line */
			s->skipping = false;
			line_free(&l);
			continue;
		}
		handle_line(s, &l);
		line_free(&l);
	}
	if (!(s->state & ST_CLOSING))
		update_timeout(s);
}

void session_resume(struct session *s)
{
	s->busy = false;
	if (s->bev)
		process(s);
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	process(arg);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
		return;
	if (s->state & ST_CLOSING)
		schedule_reap(s);
	else if (s->state & ST_TLS)
		tls_after_flush(s);
	else if (!s->busy)
		process(s);	/* the commands that waited for the replies to go */
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;
	if (what & BEV_EVENT_CONNECTED) {
		tls_established(s);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		if (s->state & ST_CLOSING) {
			session_lost(s, "timeout while closing");
			return;
		}
		log_debug("session %llx: timeout client=%s state=%#x", (unsigned long long)s->id, s->ip, s->state);
		session_reply(s, "421 4.4.2 %s Error: timeout exceeded", s->srv->hostname);
		session_close(s, "timeout");
		bufferevent_enable(bev, EV_WRITE);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		if (s->state & ST_TLS)
			tls_log_failure(s);
		session_lost(s, "connection error");
	} else if (what & BEV_EVENT_EOF) {
		session_lost(s, "lost connection");
	}
}

void session_set_timeout(struct session *s, unsigned seconds)
{
	struct timeval tv = { (time_t)seconds, 0 };
	bufferevent_set_timeouts(s->bev, &tv, &tv);
}

void session_start_io(struct session *s)
{
	bufferevent_setcb(s->bev, read_cb, write_cb, event_cb, s);
	/* Bound what one client can make us buffer while we wait on authd/queued. */
	bufferevent_setwatermark(s->bev, EV_READ, 0, 256 * 1024);
	session_set_timeout(s, s->srv->conf.command_timeout);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
}

void session_greet(struct session *s)
{
	session_reply(s, "220 %s ESMTP tern", s->srv->hostname);
}

/* ---- accepting ---- */

static void describe_peer(struct session *s, struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, s->ip, sizeof s->ip);
		s->port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, s->ip, sizeof s->ip);
		s->port = ntohs(in6->sin6_port);
	} else {
		strlcpy_t(s->ip, "unknown", sizeof s->ip);
	}
	s->plaintext_ok = netlist_has_sa(&s->srv->conf.plaintext_nets, sa);
	s->trusted = netlist_has_sa(&s->srv->conf.trusted, sa);
}

/* Sessions of ip in the pool of kind. */
static unsigned sessions_from(const struct server *srv, const char *ip, enum listener_kind kind)
{
	unsigned n = 0;
	for (const struct session *t = srv->sessions; t; t = t->next)
		if (pool_of(t->kind) == pool_of(kind) && !strcmp(t->ip, ip))
			n++;
	return n;
}

static bool pool_full(const struct server *srv, enum listener_kind kind)
{
	unsigned max = kind == L_SMTP ? srv->conf.max_sessions : srv->conf.max_submission_sessions;
	return srv->npool[pool_of(kind)] >= max;
}

/* Refuse before any buffering: one best-effort line, then close. */
static void refuse(int fd, const char *code, const char *host, const char *why)
{
	char line[300];
	int n = snprintf(line, sizeof line, "%s %s %s\r\n", code, host, why);
	if (n > 0)
		(void)!write(fd, line, (size_t)n);
	close(fd);
}

void session_accept(struct server *srv, int fd, enum listener_kind kind, struct sockaddr *sa)
{
	struct session *s = xcalloc(1, sizeof *s);
	s->srv = srv;
	s->fd = fd;
	s->kind = kind;
	s->state = ST_GREET;
	s->tx.fd = -1;
	s->start_ms = now_ms();
	s->id = ++srv->next_session;
	s->reap_ev = evtimer_new(srv->base, reap_cb, s);
	describe_peer(s, sa);
	/* Like Postfix, the per-address limit spares trusted_networks (local
	 * applications and relays open many sessions on purpose). */
	if (srv->draining || pool_full(srv, kind) ||
	    (!s->trusted && sessions_from(srv, s->ip, kind) >= srv->conf.max_sessions_per_ip)) {
		log_warn("session %llx: refused client=%s port=%s: too many sessions",
			 (unsigned long long)s->id, s->ip, kind_name(kind));
		refuse(fd, "421 4.7.0", srv->hostname, "Too many connections, try again later");
		event_free(s->reap_ev);
		free(s);
		return;
	}
	/* The internal port takes mail the front-ends already checked: nobody
	 * else may even talk to it. */
	if (kind == L_INTERNAL && !netlist_has_sa(&srv->conf.frontends, sa)) {
		log_warn("session %llx: refused client=%s port=%s: not in site_frontends",
			 (unsigned long long)s->id, s->ip, kind_name(kind));
		refuse(fd, "554 5.7.1", srv->hostname, "this port is for the site's front-ends only");
		event_free(s->reap_ev);
		free(s);
		return;
	}
	s->next = srv->sessions;
	if (s->next)
		s->next->prev = s;
	srv->sessions = s;
	srv->nsessions++;
	srv->npool[pool_of(kind)]++;
	fd_nonblock(fd);
	log_debug("session %llx: connect client=%s port=%s", (unsigned long long)s->id, s->ip,
		 kind_name(kind));
	if (kind == L_SMTPS) {
		if (!tls_start_implicit(s))
			session_lost(s, "TLS unavailable");
		return;
	}
	s->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_DEFER_CALLBACKS);
	session_start_io(s);
	session_greet(s);
}

void session_reset_txn(struct session *s)
{
	txn_free(s);
	s->in_txn = false;
}
