/* mail.c — the mail role: accepts hand-offs from the login role on
 * RUN/pop3-mail.sock, checks the login token, and forks one session process
 * per login. Runs as the mail store account; holds no client input itself. */
#include "pop3d/pop3d.h"
#include "pop3d/session.h"
#include "common/auth_client.h"
#include "common/auth_proto.h"
#include "common/daemon.h"
#include "common/ipc.h"
#include "common/listener.h"
#include "common/log.h"
#include "common/privdrop.h"
#include "common/sandbox.h"
#include "common/util.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CONN_TIMEOUT 10		/* seconds for a login process to send its request */

struct mailrole {
	struct event_base *base;
	const struct pop3d_conf *conf;
	const struct instance *in;
	const unsigned char *secret;
	uid_t login_uid;
	int lsock;
	struct listener *lis;
	struct hconn *conns;
	pid_t *kids;		/* running session processes */
	unsigned children, kids_cap;
	bool stopping;
};

struct hconn {
	struct hconn *next;
	struct mailrole *M;
	struct ipc_conn c;
	struct event *ev;
};

static void hconn_free(struct hconn *h)
{
	struct mailrole *M = h->M;
	for (struct hconn **p = &M->conns; *p; p = &(*p)->next) {
		if (*p == h) {
			*p = h->next;
			break;
		}
	}
	event_free(h->ev);
	ipc_conn_close(&h->c);
	free(h);
}

/* user is "local@domain" from authd; each part must be a plain file name. */
static bool part_ok(const char *p, size_t n)
{
	if (n == 0 || n > 255 || p[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (p[i] == '/' || (unsigned char)p[i] < 0x20 || p[i] == 0x7f)
			return false;
	return true;
}

static char *maildir_path(const struct mailrole *M, const char *user)
{
	const char *at = strrchr(user, '@');
	if (!at || !part_ok(user, (size_t)(at - user)) || !part_ok(at + 1, strlen(at + 1)))
		return NULL;
	return xasprintf("%s/%s/%.*s", M->in->mail_dir, at + 1, (int)(at - user), user);
}

static void child_main(struct mailrole *M, struct hconn *h, struct session_args *a)
{
	/* Nothing of the parent's other hand-offs stays in the session, nor
	 * the secret that checks them. */
	daemon_forget_keys();
	M->secret = NULL;
	close(M->lsock);
	for (struct hconn *o = M->conns; o; o = o->next)
		close(o->c.sock);
	signal(SIGHUP, SIG_IGN);	/* a reload leaves running sessions alone */
	signal(SIGTERM, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	_exit(session_run(a));
}

/* A session for the hand-off ho (its fd the caller's to close). */
static uint32_t start_session(struct mailrole *M, struct hconn *h, const struct login_handoff *ho)
{
	const char *user = ho->user;
	if (!auth_token_verify(M->secret, ho->token, POP3_SERVICE, user, time(NULL))) {
		log_err("pop3 mail: hand-off for %s with an invalid token refused", user);
		return HANDOFF_DENIED;
	}
	char *path = maildir_path(M, user);
	if (!path) {
		log_err("pop3 mail: user name %s is not a mailbox name", user);
		return HANDOFF_DENIED;
	}
	if (M->children >= M->conf->max_sessions || M->stopping) {
		log_warn("pop3 mail: user=%s refused: %u sessions running", user, M->children);
		free(path);
		return HANDOFF_TEMPFAIL;
	}
	struct session_args a = { .fd = ho->fd, .user = user, .maildir = path, .ip = ho->ip,
				  .tls = ho->flags & LOGIN_HF_TLS, .pending = ho->pending,
				  .npending = ho->npending, .conf = M->conf };
	pid_t pid = fork();
	if (pid == 0)
		child_main(M, h, &a);
	free(path);
	if (pid < 0) {
		log_err("pop3 mail: fork: %s", strerror(errno));
		return HANDOFF_TEMPFAIL;
	}
	if (M->children == M->kids_cap) {
		M->kids_cap = M->kids_cap ? 2 * M->kids_cap : 64;
		M->kids = xrealloc(M->kids, M->kids_cap * sizeof *M->kids);
	}
	M->kids[M->children++] = pid;
	return HANDOFF_OK;
}

static void on_hconn(evutil_socket_t fd, short what, void *arg)
{
	struct hconn *h = arg;
	if (what & EV_TIMEOUT) {
		log_warn("pop3 mail: login process sent no hand-off in %ds", CONN_TIMEOUT);
		return hconn_free(h);
	}
	if (ipc_conn_read(&h->c) < 0)
		return hconn_free(h);
	struct ipc_msg m;
	int r = ipc_conn_next(&h->c, &m);
	if (r == 0 && !h->c.eof)
		return;
	if (r <= 0)
		return hconn_free(h);
	struct login_handoff ho;
	uint32_t st = HANDOFF_DENIED;
	if (login_handoff_get(&m, POP3_HANDOFF_REQ, "pop3 mail", &ho))
		st = start_session(h->M, h, &ho);
	if (ho.fd >= 0)
		close(ho.fd);
	ipc_msg_free(&m);
	struct ipc_msg res;
	ipc_msg_init(&res, POP3_HANDOFF_RES, m.hdr.id);
	ipc_put_u32(&res, st);
	fd_nonblock(h->c.sock);
	(void)ipc_send(h->c.sock, &res);	/* a few bytes into an empty socket */
	ipc_msg_free(&res);
	hconn_free(h);
}

static void on_accept(int s, struct sockaddr *sa, int salen, void *arg)
{
	struct mailrole *M = arg;
	unsigned uid;
	if (ipc_peer_uid(s, &uid, NULL) < 0 || (uid != 0 && uid != M->login_uid && uid != getuid())) {
		log_warn("pop3 mail: connection from uid %u refused", uid);
		close(s);
		return;
	}
	struct hconn *h = xcalloc(1, sizeof *h);
	h->M = M;
	ipc_conn_init(&h->c, s);
	h->ev = event_new(M->base, s, EV_READ | EV_PERSIST, on_hconn, h);
	struct timeval tv = { CONN_TIMEOUT, 0 };
	event_add(h->ev, &tv);
	h->next = M->conns;
	M->conns = h;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct mailrole *M = arg;
	if (sig == SIGCHLD) {
		int status;
		pid_t pid;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			sandbox_note_exit("pop3d-session", pid, status);
			for (unsigned i = 0; i < M->children; i++) {
				if (M->kids[i] == pid) {
					M->kids[i] = M->kids[--M->children];
					break;
				}
			}
		}
		if (M->stopping && M->children == 0)
			event_base_loopexit(M->base, NULL);
		return;
	}
	if (sig == SIGHUP) {
		/* A new generation serves new logins; ours finish theirs. */
		log_info("pop3 mail: reload: %u sessions to finish", M->children);
		M->stopping = true;
		listener_set_accepting(M->lis, false);
		if (M->children == 0)
			event_base_loopexit(M->base, NULL);
		return;
	}
	/* SIGTERM: stop now; sessions end without UPDATE (nothing deleted). */
	for (unsigned i = 0; i < M->children; i++)
		kill(M->kids[i], SIGTERM);
	event_base_loopexit(M->base, NULL);
}

int pop3d_mail_main(struct instance *in, const struct pop3d_conf *conf)
{
	struct mailrole M = { .conf = conf, .in = in, .secret = daemon_secret() };
	if (!M.secret)
		fatal("pop3 mail: no run secret (TERN_SECRET_FD): cannot check login tokens");
	gid_t gid;
	if (account_ids(ACCT_POP3D, &M.login_uid, &gid) < 0)
		fatal("pop3 mail: account %s does not exist", ACCT_POP3D);
	char *path = instance_sock(in, POP3_MAIL_SOCK);
	M.lsock = ipc_listen(path, 0600);
	if (M.lsock < 0)
		fatal_errno("pop3 mail: cannot listen on %s", path);
	/* Only the login role's account may connect (and root). */
	if (running_as_root() && chown(path, M.login_uid, gid) < 0)
		fatal_errno("pop3 mail: chown %s", path);
	tzset();
	char probe[AUTH_TOKEN_MAX];
	auth_token_make(M.secret, "probe", "probe", 0, probe);	/* load OpenSSL's digests now */
	privdrop(ACCT_MAILSTORE, NULL);
	fd_nonblock(M.lsock);
	M.base = event_base_new();
	if (!M.base)
		fatal("event_base_new failed");
	M.lis = listener_new(M.base, M.lsock, "pop3 mail", on_accept, &M);
	int signo[4] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };
	struct event *sigs[4];
	for (int i = 0; i < 4; i++) {
		sigs[i] = evsignal_new(M.base, signo[i], on_signal, &M);
		evsignal_add(sigs[i], NULL);
	}
	/* Forks one session per login, which confines itself to its Maildir. */
	const struct sb_path mail = { in->mail_dir, true };
	sandbox_enter("pop3d-mail", SB_ACCEPT | SB_FORK | SB_CONFINE | SB_FILES, &mail, 1);
	log_info("pop3 mail: serving %s", path);
	daemon_ready();
	event_base_dispatch(M.base);
	while (M.conns)
		hconn_free(M.conns);
	for (int i = 0; i < 4; i++)
		event_free(sigs[i]);
	listener_free(M.lis);	/* closes lsock */
	event_base_free(M.base);
	free(M.kids);
	free(path);
	return 0;
}
