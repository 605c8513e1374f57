/* mailrole.c — the post-login role: accepts hand-offs from the login role,
 * checks each login token against the run secret, and forks one process per
 * session, confined to that user's Maildir. */
#include "imapd/imapd.h"
#include "imapd/append_seal.h"
#include "imapd/commands.h"
#include "imapd/idlehold.h"
#include "imapd/idlepark.h"
#include "imapd/urlserve.h"
#include "common/auth_client.h"
#include "common/daemon.h"
#include "common/ipc.h"
#include "common/listener.h"
#include "common/log.h"
#include "common/login_handoff.h"
#include "common/mailindex.h"
#include "common/mailjail.h"
#include "common/mailstore.h"
#include "common/privdrop.h"
#include "common/sandbox.h"
#include "common/threadid.h"
#include "common/urlfetch.h"
#include "common/util.h"
#include "common/workahead.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHILDREN 10000

struct child {
	pid_t pid;
	char *user;
	int chan;	/* its URLAUTH channel (urlfetch.h), -1 until it connects */
};

static struct child *kids;
static size_t nkids;
static volatile sig_atomic_t got_term, got_hup;
static struct auth_sync authd;	/* for AUTH_USER_REQ (quota) */
static int hand_sock = -1, url_sock = -1;	/* hand-offs, URLAUTH fetches */

static void on_sig(int sig)
{
	if (sig == SIGTERM)
		got_term = 1;
	else if (sig == SIGHUP)
		got_hup = 1;
}

static void serve_last(int chan, const char *user);

static void reap(void)
{
	int st;
	pid_t pid;
	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		urlserve_reaped(pid);
		sandbox_note_exit("imapd-session", pid, st);
		for (size_t i = 0; i < nkids; i++) {
			if (kids[i].pid != pid)
				continue;
			if (kids[i].chan >= 0) {
				/* ended: no longer one of the user's sessions
				 * (a park served here may start one) */
				kids[i].pid = 0;
				serve_last(kids[i].chan, kids[i].user);
				close(kids[i].chan);
			}
			free(kids[i].user);
			kids[i] = kids[--nkids];
			break;
		}
	}
}

/* The user of a session process of ours (URLAUTH fetches name the asker). */
static const char *session_user(pid_t pid)
{
	for (size_t i = 0; i < nkids; i++)
		if (kids[i].pid == pid)
			return kids[i].user;
	return NULL;
}

/* A forked child keeps none of the role's sockets. */
static void child_close(void)
{
	close(hand_sock);
	close(url_sock);
	auth_sync_close(&authd);
	idlepark_child();
	for (size_t i = 0; i < nkids; i++)
		if (kids[i].chan >= 0)
			close(kids[i].chan);
}
static size_t sessions_of(const char *user)
{
	size_t n = 0;
	for (size_t i = 0; i < nkids; i++)
		n += kids[i].pid > 0 && !strcmp(kids[i].user, user);
	return n;
}

/* How a session process starts: a login hand-off (tag, client, TLS, the
 * bytes pipelined behind the login), or a parked session resumed. */
struct start {
	const char *tag, *ip;
	bool tls;
	const void *pending;
	size_t npending;
	struct park_state *resume;	/* NULL for a login */
	uint32_t why;			/* IDLE_WHY_* of a resume */
};

static void run_child(struct instance *in, const struct session_limits *lim, const struct start *st,
		      const char *user, int fd)
{
	child_close();
	daemon_forget_keys();	/* the session never checks a login token */
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	const char *tag = st->tag, *ip = st->ip;
	char *maildir;
	if (mailjail_prepare(in->mail_dir, user, &maildir) < 0 || chdir(maildir) < 0) {
		log_err("user=%s: cannot open Maildir: %s", user, strerror(errno));
		dprintf(fd, "%s NO [SERVERBUG] Mailbox unavailable\r\n", tag);
		_exit(1);
	}
	tzset();
	urlauth_connect_remote();	/* its seccomp filter allows no new stream socket */
	/* Landlock to the Maildir; helper threads for a first open of a large
	 * folder (they parse message files while this thread writes the
	 * index); no_new_privs, no core, no fork; then only the system calls a
	 * session makes: its files, inotify for IDLE (no sockets, no exec) */
	if (mailjail_confine("imapd-session", maildir, SB_FILES | SB_INOTIFY, workahead_default()) < 0) {
		log_err("user=%s: cannot confine the session: %s", user, strerror(errno));
		dprintf(fd, "%s NO [SERVERBUG] Mailbox unavailable\r\n", tag);
		_exit(1);
	}
	free(maildir);
	/* thread ids JMAP gave before they moved out of its journal: copied
	 * here, where no index lock is held (common/threadid.h) */
	threadid_migrate(NULL);
	if (st->resume) {
		session_resume(fd, st->resume, st->why, lim, &imap_session_ops);
		_exit(0);
	}
	log_info("imap session: user=%s client=%s tls=%s", user, ip, st->tls ? "yes" : "no");
	session_run(fd, user, tag, ip, st->tls, st->pending, st->npending, lim, &imap_session_ops);
	_exit(0);
}

/* A URLAUTH channel a session of ours connected (urlserve_accept). */
static void add_channel(pid_t pid, int chan)
{
	for (size_t i = 0; i < nkids; i++)
		if (kids[i].pid == pid && kids[i].chan < 0) {
			kids[i].chan = chan;
			return;
		}
	close(chan);	/* a second one, or its session is gone */
}

/* Requests on the sessions' channels; kids is as when p was filled. */
static void serve_channels(const char *mail_dir, const struct pollfd *p, size_t n)
{
	for (size_t i = 0; i < n && i < nkids; i++) {
		if (!p[i].revents || kids[i].chan != p[i].fd)
			continue;
		if (urlserve_channel(kids[i].chan, mail_dir, kids[i].user, child_close,
				     idlepark_from_session) < 0) {
			close(kids[i].chan);
			kids[i].chan = -1;
		}
	}
}

/* The user's quota from authd (0 = none, also when authd cannot say). */
static uint64_t user_quota(const char *user)
{
	struct auth_reply r;
	uint64_t q = 0;
	if (auth_sync_user(&authd, user, &r) == 0 && !r.tempfail && r.result == 1)
		q = r.quota;
	auth_reply_free(&r);
	return q;
}

/* What starting a session needs (set once in mail_main). */
static struct {
	struct instance *in;
	const struct session_limits *lim;
	uint64_t max_per_user;
} R;

/* A session that parks sends its park (which carries the client's
 * connection) and exits at once, so its exit may be reaped after the poll
 * that did not yet see the park: closing the channel then would drop the
 * park unread and with it the connection, which the client sees close
 * with nothing said. What the ended session left in its channel is served
 * first (a few messages at most: nothing more can come). */
static void serve_last(int chan, const char *user)
{
	struct pollfd p = { chan, POLLIN, 0 };
	for (int i = 0; i < 4 && poll(&p, 1, 0) == 1 && (p.revents & POLLIN); i++)
		if (urlserve_channel(chan, R.in->mail_dir, user, child_close,
				     idlepark_from_session) < 0)
			break;	/* its end: EOF after what it sent */
}

/* Fork a session process for user on fd (closed here). */
static void start_session(const char *user, int fd, const struct start *st)
{
	struct session_limits limits = *R.lim;
	if (sessions_of(user) >= R.max_per_user || nkids >= MAX_CHILDREN) {
		log_warn("imap mail: user=%s has too many sessions", user);
		dprintf(fd, "* BYE [LIMIT] Too many sessions for this user\r\n");
		close(fd);
		return;
	}
	limits.quota = user_quota(user);
	pid_t p = fork();
	if (p == 0)
		run_child(R.in, &limits, st, user, fd);
	if (p > 0) {
		kids = xrealloc(kids, (nkids + 1) * sizeof *kids);
		kids[nkids++] = (struct child){ p, xstrdup(user), -1 };
	} else {
		log_err("imap mail: fork: %s", strerror(errno));
	}
	close(fd);
}

/* Shut for a pause while the process is out of descriptors (listener.h). */
static struct accept_gate hand_gate = { .name = "imap mail hand-off" };
static struct accept_gate url_gate = { .name = "urlauth" };

static void accept_handoff(int lsock, uid_t login_uid)
{
	struct ipc_msg m;
	struct login_handoff h;
	if (mailjail_handoff(&hand_gate, lsock, login_uid, IMAP_HANDOFF, "imap", "imap mail", &m, &h) < 0)
		return;
	struct start st = { .tag = h.tag, .ip = h.ip, .tls = h.flags & LOGIN_HF_TLS,
			    .pending = h.pending, .npending = h.npending };
	start_session(h.user, h.fd, &st);
	ipc_msg_free(&m);
}

/* An update process (idlepark.h): confined as a session is, it computes
 * what the clients of a group of parked sessions are owed, answers on chan
 * and ends. */
static void run_update(const struct park_state *ps, bool shared, int chan)
{
	child_close();
	daemon_forget_keys();
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	char *maildir;
	if (mailjail_prepare(R.in->mail_dir, ps->user, &maildir) < 0 || chdir(maildir) < 0 ||
	    mailjail_confine("imapd-session", maildir, SB_FILES, 0) < 0) {
		log_err("user=%s: cannot update parked sessions: %s", ps->user, strerror(errno));
		_exit(1);
	}
	free(maildir);
	tzset();
	session_update(chan, ps, shared, R.lim, &imap_session_ops);
	_exit(0);
}

static int update_parked(const struct park_state *ps, bool shared, pid_t *pid)
{
	int sv[2];
	if (!mailjail_user_ok(ps->user) || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	*pid = fork();
	if (*pid == 0) {
		close(sv[0]);
		run_update(ps, shared, sv[1]);
	}
	close(sv[1]);
	if (*pid < 0) {
		log_err("imap mail: fork: %s", strerror(errno));
		close(sv[0]);
		return -1;
	}
	return sv[0];
}

/* A parked session the holder woke (or could not take): a new session
 * process resumes it. */
static void resume_parked(int fd, struct park_state *ps, uint32_t why)
{
	struct start st = { .tag = ps->tag, .ip = ps->ip, .tls = ps->flags & PARK_TLS,
			    .resume = ps, .why = why };
	if (mailjail_user_ok(ps->user))
		start_session(ps->user, fd, &st);
	else
		close(fd);
	park_free(ps);
}

/* One wait for hand-offs, URLAUTH connections and the sessions' URLAUTH
 * channels (served also while a reload waits for the sessions to end). */
static void serve_once(struct instance *in, int lsock, uid_t login_uid, uid_t submit_uid)
{
	static struct pollfd *p;
	size_t n = nkids;
	idlepark_tick();
	p = xrealloc(p, (n + 3 + IDLEPARK_UPDATES_MAX) * sizeof *p);
	for (size_t i = 0; i < n; i++)
		p[i] = (struct pollfd){ kids[i].chan, POLLIN, 0 };	/* -1: ignored */
	int hand_shut = accept_gate_wait_ms(&hand_gate), url_shut = accept_gate_wait_ms(&url_gate);
	p[n] = (struct pollfd){ got_hup || hand_shut >= 0 ? -1 : lsock, POLLIN, 0 };
	p[n + 1] = (struct pollfd){ got_hup || url_shut >= 0 ? -1 : url_sock, POLLIN, 0 };
	p[n + 2] = (struct pollfd){ idlepark_fd(), POLLIN, 0 };
	size_t nu = idlepark_update_fds(p + n + 3);
	int timeout = 1000;
	if (hand_shut >= 0 && hand_shut < timeout)
		timeout = hand_shut;
	if (url_shut >= 0 && url_shut < timeout)
		timeout = url_shut;
	int r = poll(p, n + 3 + nu, timeout);
	if (r <= 0)
		return;
	serve_channels(in->mail_dir, p, n);
	if (p[n].revents & POLLIN)
		accept_handoff(lsock, login_uid);
	idlepark_updates(p + n + 3, nu);
	if (p[n + 2].revents)
		idlepark_wakes();
	pid_t sess;
	int chan;
	if ((p[n + 1].revents & POLLIN) &&
	    (chan = urlserve_accept(&url_gate, url_sock, in->mail_dir, session_user, submit_uid,
				    child_close, &sess)) >= 0)
		add_channel(sess, chan);
}

int mail_main(struct instance *in, struct cfg *conf)
{
	struct session_limits lim = {
		.line_max = cfg_int(conf, "max_command_line"),
		.cmd_max = cfg_int(conf, "max_command"),
		.message_max = cfg_int(conf, "max_message_size"),
		.idle_timeout = cfg_int(conf, "idle_timeout"),
		.idle_max = cfg_int(conf, "idle_max"),
		.park_after = cfg_int(conf, "idle_park_after"),
	};
	R.in = in;
	R.lim = &lim;
	R.max_per_user = cfg_int(conf, "max_sessions_per_user");
	mi_set_tombstone_limit((size_t)cfg_int(conf, "qresync_expunge_records"));
	if (!daemon_secret())
		fatal("no run secret (TERN_SECRET_FD): the mail role must be started by the master");
	uid_t login_uid;
	gid_t g;
	if (account_ids(ACCT_IMAPD, &login_uid, &g) < 0)
		fatal("account %s does not exist", ACCT_IMAPD);
	char *path = xasprintf("%s/%s", in->run_dir, IMAP_MAIL_SOCK);
	/* world-connectable: the peer uid is checked on every hand-off */
	int lsock = hand_sock = ipc_listen(path, 0666);
	if (lsock < 0)
		fatal_errno("cannot listen on %s", path);
	free(path);
	/* also world-connectable: the asker is named from its credentials */
	path = xasprintf("%s/%s", in->run_dir, URLFETCH_SOCK);
	if ((url_sock = ipc_listen(path, 0666)) < 0)
		fatal_errno("cannot listen on %s", path);
	urlauth_set_remote(path);	/* where sessions ask for other users' URLs */
	free(path);
	path = xasprintf("%s/%s", in->run_dir, IDLE_HOLD_SOCK);
	idlepark_init(path, lim.idle_max, resume_parked, update_parked);
	free(path);
	uid_t submit_uid;
	if (account_ids(ACCT_SMTPD, &submit_uid, &g) < 0 || getuid() != 0)
		submit_uid = getuid();	/* one account for everything: no separation to keep */
	char *ap = xasprintf("%s/auth.sock", in->run_dir);
	auth_sync_open(&authd, ap, 2000);	/* reconnects on demand */
	free(ap);
	append_seal_setup(&in->conf);	/* before sessions confine themselves */
	privdrop(ACCT_MAILSTORE, NULL);
	struct sigaction sa = { .sa_handler = on_sig };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* Forks one session per login (which confines itself to its Maildir and
	 * the charset converters); asks authd for quotas. */
	const struct sb_path paths[] = { { in->mail_dir, true }, { "/usr/lib", false } };
	sandbox_enter("imapd-mail", SB_ACCEPT | SB_FORK | SB_CONFINE | SB_UNIX | SB_FILES | SB_INOTIFY,
		      paths, ARRAY_LEN(paths));
	log_info("imap mail: serving");
	daemon_ready();
	while (!got_term && !(got_hup && nkids == 0)) {
		serve_once(in, lsock, login_uid, submit_uid);
		reap();
	}
	if (got_term)
		for (size_t i = 0; i < nkids; i++)
			kill(kids[i].pid, SIGTERM);
	return 0;
}
