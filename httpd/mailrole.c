/* mailrole.c — the post-login role: accepts hand-offs from the front,
 * checks each login token against the run secret, and forks one mail
 * process per user and front, confined to that user's Maildir (session.c). */
#include "httpd/blob_seal.h"
#include "httpd/httpd.h"
#include "httpd/proto.h"
#include "httpd/seal.h"
#include "httpd/session.h"
#include "common/auth_client.h"
#include "common/daemon.h"
#include "common/ipc.h"
#include "common/listener.h"
#include "common/log.h"
#include "common/login_handoff.h"
#include "common/mailindex.h"
#include "common/mailjail.h"
#include "common/privdrop.h"
#include "common/sandbox.h"
#include "common/util.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHILDREN 10000

static pid_t *kids;
static size_t nkids;
static volatile sig_atomic_t got_term, got_hup;

static void on_sig(int sig)
{
	if (sig == SIGTERM)
		got_term = 1;
	else if (sig == SIGHUP)
		got_hup = 1;
}

static void reap(void)
{
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		sandbox_note_exit("httpd-session", pid, st);
		for (size_t i = 0; i < nkids; i++)
			if (kids[i] == pid) {
				kids[i] = kids[--nkids];
				break;
			}
	}
}

static void run_child(const struct instance *in, const struct session_conf *sc, int lsock,
		      const char *user, const char *client, int fd)
{
	close(lsock);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	blob_seal_enter(user);
	char *maildir;
	if (mailjail_prepare(in->mail_dir, user, &maildir) < 0 || chdir(maildir) < 0) {
		log_err("http: user=%s: cannot open Maildir: %s", user, strerror(errno));
		_exit(1);
	}
	tzset();
	daemon_forget_keys();	/* the session never checks a login token */
	/* no fork, no exec, no sockets of its own: its files and the channel
	 * it was handed (docs/ARCHITECTURE.md, "Sandboxing") */
	if (mailjail_confine("httpd-session", maildir, SB_FILES | SB_INOTIFY, 0) < 0) {
		log_err("http: user=%s: cannot confine the session: %s", user, strerror(errno));
		_exit(1);
	}
	free(maildir);
	log_info("http session: user=%s client=%s", user, client);
	_exit(session_run(fd, user, sc));
}

/* Shut for a pause while the process is out of descriptors (listener.h). */
static struct accept_gate hand_gate = { .name = "http mail hand-off" };

static void accept_handoff(const struct instance *in, const struct session_conf *sc, int lsock,
			   uid_t front_uid)
{
	struct ipc_msg m;
	struct login_handoff h;
	if (mailjail_handoff(&hand_gate, lsock, front_uid, HTTP_HANDOFF, "http", "http mail", &m, &h) < 0)
		return;
	int fd = h.fd;
	if (h.flags || h.npending) {
		log_warn("http mail: hand-off of %s with TLS flag or pending input refused", h.user);
	} else if (nkids >= MAX_CHILDREN) {
		log_warn("http mail: %zu processes: hand-off of %s refused", nkids, h.user);
	} else {
		pid_t p = fork();
		if (p == 0)
			run_child(in, sc, lsock, h.user, h.ip, fd);
		if (p > 0) {
			kids = xrealloc(kids, (nkids + 1) * sizeof *kids);
			kids[nkids++] = p;
		} else {
			log_err("http mail: fork: %s", strerror(errno));
		}
	}
	close(fd);
	ipc_msg_free(&m);
}

int mail_main(struct instance *in, struct cfg *conf)
{
	struct session_conf sc;
	session_conf_load(&sc, in, conf);
	if (!daemon_secret())
		fatal("no run secret (TERN_SECRET_FD): the mail role must be started by the master");
	uid_t front_uid;
	gid_t g;
	if (account_ids(ACCT_HTTPD, &front_uid, &g) < 0)
		fatal("account %s does not exist", ACCT_HTTPD);
	char *path = xasprintf("%s/%s", in->run_dir, HTTP_MAIL_SOCK);
	/* world-connectable: the peer uid is checked on every hand-off */
	int lsock = ipc_listen(path, 0666);
	if (lsock < 0)
		fatal_errno("cannot listen on %s", path);
	free(path);
	seal_setup(&in->conf);	/* before sessions confine themselves */
	blob_seal_init();
	privdrop(ACCT_MAILSTORE, NULL);
	struct sigaction sa = { .sa_handler = on_sig };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* Forks one process per user (which confines itself to its Maildir
	 * and the charset converters, read-only). */
	const struct sb_path paths[] = { { in->mail_dir, true }, { "/usr/lib", false } };
	sandbox_enter("httpd-mail", SB_ACCEPT | SB_FORK | SB_CONFINE | SB_FILES | SB_INOTIFY, paths,
		      ARRAY_LEN(paths));
	log_info("http mail: serving");
	daemon_ready();
	while (!got_term && !(got_hup && nkids == 0)) {
		int shut = accept_gate_wait_ms(&hand_gate);
		struct pollfd p = { shut >= 0 ? -1 : lsock, POLLIN, 0 };
		int r = poll(&p, got_hup ? 0 : 1, shut >= 0 && shut < 1000 ? shut : 1000);
		reap();
		if (r > 0 && (p.revents & POLLIN))
			accept_handoff(in, &sc, lsock, front_uid);
		if (got_hup && r == 0)
			sleep(1);
	}
	if (got_term)
		for (size_t i = 0; i < nkids; i++)
			kill(kids[i], SIGTERM);
	free(kids);
	free(sc.base_url);
	return 0;
}
