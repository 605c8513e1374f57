/* main.c — tern-smtpd: SMTP reception (port 25) and submission (587, 465).
 * Reads its config and TLS key as root, takes the listening sockets the master
 * bound, drops to tern-smtpd chrooted into run_dir (which holds auth.sock and
 * queue.sock, so it can reconnect when a peer restarts) and serves. */
#include "smtpd/peer.h"
#include "common/auth_client.h"
#include "smtpd/session.h"
#include "smtpd/settings.h"
#include "common/daemon.h"
#include "common/listener.h"
#include "common/log.h"
#include "common/privdrop.h"
#include "common/sandbox.h"
#include "common/tls.h"
#include "smtpd/inbound.h"
#include "common/util.h"

#include <event2/event.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct smtp_listener {
	struct server *srv;
	enum listener_kind kind;
	struct listener *l;
};

#define MAX_LISTENERS 32	/* every kind on every `listen` address */
static struct smtp_listener listeners[MAX_LISTENERS];
static int nlisteners;

static void accept_cb(int fd, struct sockaddr *sa, int len, void *arg)
{
	struct smtp_listener *li = arg;
	session_accept(li->srv, fd, li->kind, sa);
}

/* Each session may hold its socket and a spool file: ask for the descriptors
 * max_sessions needs (up to the hard limit) and say so if that is not enough. */
static void raise_fd_limit(const struct smtpd_conf *c)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	rlim_t want = ((rlim_t)c->max_sessions + c->max_submission_sessions) * 2 + 64;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < want)
		log_warn("max_sessions %u + max_submission_sessions %u need %llu file descriptors, "
			 "the limit is %llu", c->max_sessions, c->max_submission_sessions,
			 (unsigned long long)want, (unsigned long long)rl.rlim_cur);
}

/* One listener per socket the master passed: a kind has one per `listen`
 * address. */
static int open_listeners(struct server *srv)
{
	for (int k = 0; k < L_COUNT; k++) {
		int fds[MAX_LISTENERS];
		int n = daemon_listen_fds(kind_name((enum listener_kind)k), fds, MAX_LISTENERS);
		for (int i = 0; i < n && nlisteners < MAX_LISTENERS; i++) {
			if (k == L_SMTPS && !srv->tls) {
				log_err("smtps: no TLS certificate, not serving implicit TLS");
				close(fds[i]);
				continue;
			}
			fd_nonblock(fds[i]);
			fd_cloexec(fds[i]);
			struct smtp_listener *li = &listeners[nlisteners++];
			*li = (struct smtp_listener){ srv, (enum listener_kind)k, NULL };
			li->l = listener_new(srv->base, fds[i], kind_name((enum listener_kind)k),
					     accept_cb, li);
		}
	}
	return nlisteners;
}

static void close_listeners(void)
{
	for (int i = 0; i < nlisteners; i++) {
		listener_free(listeners[i].l);
		listeners[i].l = NULL;
	}
}

static void on_term(evutil_socket_t sig, short ev, void *arg)
{
	struct server *srv = arg;
	log_info("stopping (SIGTERM), %u sessions", srv->nsessions);
	session_shutdown_all(srv);
	event_base_loopbreak(srv->base);
}

static void on_hup(evutil_socket_t sig, short ev, void *arg)
{
	struct server *srv = arg;
	/* The master has started a new generation on the same sockets: stop
	 * accepting, finish the sessions we have, then exit. */
	log_info("reload: no longer accepting, exiting after %u sessions", srv->nsessions);
	srv->draining = true;
	close_listeners();
	if (srv->nsessions == 0)
		event_base_loopexit(srv->base, NULL);
}

static SSL_CTX *load_tls(const struct smtpd_conf *c)
{
	char why[512];
	SSL_CTX *ctx = tls_server_ctx(c->tls_cert, c->tls_key, why, sizeof why);
	if (!ctx)
		log_warn("TLS disabled (no STARTTLS, no AUTH, no smtps): %s", why);
	return ctx;
}

static char *sock_path(const struct instance *in, const char *name, bool chrooted)
{
	return chrooted ? xasprintf("/%s.sock", name) : instance_sock(in, name);
}

int main(int argc, char **argv)
{
	static struct server srv;
	struct instance in;
	struct cfg conf;

	daemon_init("smtpd", smtpd_settings, argc, argv, &in, &conf, NULL);
	smtpd_conf_load(&srv.conf, &conf);
	smtpd_site_load(&srv.conf, &in);
	srv.hostname = in.hostname;
	srv.tls = load_tls(&srv.conf);
	raise_fd_limit(&srv.conf);
	srv.base = event_base_new();
	if (!srv.base)
		fatal("event_base_new failed");
	inbound_init(&srv, &conf, cfg_str(&in.conf, "dns_server"));
	if (open_listeners(&srv) == 0)
		fatal("no listening sockets (TERN_LISTEN_FDS has none of smtp, submission, smtps)");

	bool chrooted = running_as_root();
	char *auth_path = sock_path(&in, "auth", chrooted);
	char *queue_path = sock_path(&in, "queue", chrooted);
	/* Failed logins are answered late on purpose: allow for that. */
	srv.auth = auth_client_new(srv.base, auth_path, 30000);
	srv.queue = peer_new(srv.base, queue_path, "queue", (int)srv.conf.queue_timeout * 1000);
	srv.urlfetch_path = sock_path(&in, "imap-urlauth", chrooted);	/* BURL */
	free(auth_path);
	free(queue_path);
	tzset();	/* Received dates keep the local zone inside the chroot */
	privdrop(ACCT_SMTPD, in.run_dir);
	/* A network parser: no files (resolv.conf is tried and refused), sockets
	 * to authd, queued and DNS; worker threads for SPF/DKIM/DMARC. */
	sandbox_enter("smtpd", SB_THREADS | SB_ACCEPT | SB_UNIX | SB_INET | SB_FILES_READ, NULL, 0);

	struct event *term = evsignal_new(srv.base, SIGTERM, on_term, &srv);
	struct event *hup = evsignal_new(srv.base, SIGHUP, on_hup, &srv);
	evsignal_add(term, NULL);
	evsignal_add(hup, NULL);
	log_info("serving: host=%s max_message_size=%llu tls=%s", srv.hostname,
		 (unsigned long long)srv.conf.max_message_size, srv.tls ? "yes" : "no");
	daemon_ready();
	event_base_dispatch(srv.base);

	close_listeners();
	event_free(term);
	event_free(hup);
	auth_client_free(srv.auth);
	peer_free(srv.queue);
	free(srv.urlfetch_path);
	event_base_free(srv.base);
	if (srv.tls)
		SSL_CTX_free(srv.tls);
	smtpd_conf_free(&srv.conf);
	cfg_free(&conf);
	instance_free(&in);
	return 0;
}
