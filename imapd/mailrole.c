/* mailrole.c — the post-login role: accepts hand-offs from the login role,
 * checks each login token against the run secret, and forks one process per
 * session, confined to that user's Maildir. */
#include "imapd/imapd.h"
#include "imapd/commands.h"
#include "common/auth_client.h"
#include "common/daemon.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/mailindex.h"
#include "common/mailstore.h"
#include "common/privdrop.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/landlock.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHILDREN 10000

struct child {
	pid_t pid;
	char *user;
};

static struct child *kids;
static size_t nkids;
static volatile sig_atomic_t got_term, got_hup;
static struct auth_sync authd;	/* for AUTH_USER_REQ (quota) */

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
		for (size_t i = 0; i < nkids; i++) {
			if (kids[i].pid != pid)
				continue;
			free(kids[i].user);
			kids[i] = kids[--nkids];
			break;
		}
	}
}

static size_t sessions_of(const char *user)
{
	size_t n = 0;
	for (size_t i = 0; i < nkids; i++)
		n += !strcmp(kids[i].user, user);
	return n;
}

/* user@domain with nothing that could escape MAIL/DOMAIN/LOCALPART. */
static bool safe_user(const char *user)
{
	const char *at = strchr(user, '@');
	if (!at || at == user || !at[1] || strchr(at + 1, '@') || strlen(user) > 320)
		return false;
	if (user[0] == '.' || at[1] == '.')
		return false;
	for (const char *p = user; *p; p++)
		if (*p == '/' || (unsigned char)*p < 0x21 || *p == 0x7f)
			return false;
	return true;
}

/* Restrict the filesystem to the Maildir (and the system's charset
 * converters, read-only). Best effort: kernels without Landlock keep the
 * account's own permissions as the boundary. */
static void landlock_confine(const char *maildir)
{
#ifdef LANDLOCK_CREATE_RULESET_VERSION
	int abi = (int)syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 1) {
		log_debug("landlock not available");
		return;
	}
	uint64_t rw = LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
		      LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR |
		      LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |
		      LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |
		      LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |
		      LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |
		      LANDLOCK_ACCESS_FS_MAKE_SYM;
	if (abi >= 2)
		rw |= LANDLOCK_ACCESS_FS_REFER;
	struct landlock_ruleset_attr attr = { .handled_access_fs = rw };
	int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof attr, 0);
	if (rs < 0)
		return;
	struct { const char *path; uint64_t access; } rules[] = {
		{ maildir, rw & ~(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_MAKE_CHAR |
				  LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_SOCK |
				  LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_SYM) },
		{ "/usr/lib", LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR },
	};
	for (size_t i = 0; i < ARRAY_LEN(rules); i++) {
		int fd = open(rules[i].path, O_PATH | O_CLOEXEC);
		if (fd < 0)
			continue;
		struct landlock_path_beneath_attr pb = { .allowed_access = rules[i].access, .parent_fd = fd };
		syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
		close(fd);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
	    syscall(SYS_landlock_restrict_self, rs, 0) == 0)
		log_debug("landlock: confined to %s", maildir);
	close(rs);
#else
	(void)maildir;
#endif
}

/* Make sure the Maildir exists; new users get the special-use folders. */
static int prepare_maildir(const char *mail_dir, const char *user, char **out)
{
	const char *at = strchr(user, '@');
	char *path = xasprintf("%s/%s/%.*s", mail_dir, at + 1, (int)(at - user), user);
	char *parent = xasprintf("%s/%s", mail_dir, at + 1);
	mkdir_p(parent, 0700);
	free(parent);
	char *marker = xasprintf("%s/tern-folders", path);
	struct stat st;
	bool fresh = stat(marker, &st) < 0;
	int r = ms_ensure_maildir(path, fresh);
	if (r == 0 && fresh) {
		int fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
	}
	free(marker);
	*out = path;
	return r;
}

static void run_child(struct instance *in, const struct session_limits *lim, int lsock,
		      struct ipc_msg *m, const char *user, int fd)
{
	close(lsock);
	auth_sync_close(&authd);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	const char *tag = ipc_get_str(m, 64);
	const char *ip = ipc_get_str(m, 64);
	uint32_t flags = ipc_get_u32(m);
	size_t npending;
	const void *pending = ipc_get_bytes(m, &npending, HANDOFF_MAX_PENDING);
	if (!ipc_end(m))
		_exit(1);
	char *maildir;
	if (prepare_maildir(in->mail_dir, user, &maildir) < 0 || chdir(maildir) < 0) {
		log_err("user=%s: cannot open Maildir: %s", user, strerror(errno));
		dprintf(fd, "%s NO [SERVERBUG] Mailbox unavailable\r\n", tag);
		_exit(1);
	}
	tzset();
	landlock_confine(maildir);
	free(maildir);
	log_info("imap session: user=%s client=%s tls=%s", user, ip, flags & HANDOFF_TLS ? "yes" : "no");
	session_run(fd, user, tag, ip, flags & HANDOFF_TLS, pending, npending, lim, &imap_session_ops);
	_exit(0);
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

static void accept_handoff(struct instance *in, const struct session_limits *lim_in, int lsock,
			   uid_t login_uid, uint64_t max_per_user)
{
	struct session_limits limits = *lim_in;
	const struct session_limits *lim = &limits;
	int c = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return;
	unsigned uid;
	int pid;
	if (ipc_peer_uid(c, &uid, &pid) < 0 || (uid != login_uid && uid != 0 && uid != getuid())) {
		log_warn("imap mail: hand-off from uid %u refused", uid);
		close(c);
		return;
	}
	struct ipc_msg m;
	if (ipc_recv(c, &m, 2000) < 0) {
		close(c);
		return;
	}
	close(c);
	int fd = ipc_take_fd(&m);
	const char *user = ipc_get_str(&m, 320);
	const char *token = ipc_get_str(&m, 256);
	if (m.hdr.type != IMAP_HANDOFF || fd < 0 || !user || !token || !safe_user(user) ||
	    !auth_token_verify(daemon_secret(), token, "imap", user, (int64_t)time(NULL))) {
		log_warn("imap mail: invalid hand-off refused (user=%s)", user ? user : "?");
		if (fd >= 0)
			close(fd);
		ipc_msg_free(&m);
		return;
	}
	if (sessions_of(user) >= max_per_user || nkids >= MAX_CHILDREN) {
		log_warn("imap mail: user=%s has too many sessions", user);
		dprintf(fd, "* BYE [LIMIT] Too many sessions for this user\r\n");
		close(fd);
		ipc_msg_free(&m);
		return;
	}
	limits.quota = user_quota(user);
	pid_t p = fork();
	if (p == 0)
		run_child(in, lim, lsock, &m, user, fd);
	if (p > 0) {
		kids = xrealloc(kids, (nkids + 1) * sizeof *kids);
		kids[nkids++] = (struct child){ p, xstrdup(user) };
	} else {
		log_err("imap mail: fork: %s", strerror(errno));
	}
	close(fd);
	ipc_msg_free(&m);
}

int mail_main(struct instance *in, struct cfg *conf)
{
	struct session_limits lim = {
		.line_max = cfg_int(conf, "max_command_line"),
		.cmd_max = cfg_int(conf, "max_command"),
		.message_max = cfg_int(conf, "max_message_size"),
		.idle_timeout = cfg_int(conf, "idle_timeout"),
		.idle_max = cfg_int(conf, "idle_max"),
	};
	uint64_t max_per_user = cfg_int(conf, "max_sessions_per_user");
	mi_set_tombstone_limit((size_t)cfg_int(conf, "qresync_expunge_records"));
	if (!daemon_secret())
		fatal("no run secret (TERN_SECRET_FD): the mail role must be started by the master");
	uid_t login_uid;
	gid_t g;
	if (account_ids(ACCT_IMAPD, &login_uid, &g) < 0)
		fatal("account %s does not exist", ACCT_IMAPD);
	char *path = xasprintf("%s/%s", in->run_dir, IMAP_MAIL_SOCK);
	/* world-connectable: the peer uid is checked on every hand-off */
	int lsock = ipc_listen(path, 0666);
	if (lsock < 0)
		fatal_errno("cannot listen on %s", path);
	free(path);
	char *ap = xasprintf("%s/auth.sock", in->run_dir);
	auth_sync_open(&authd, ap, 2000);	/* reconnects on demand */
	free(ap);
	privdrop(ACCT_MAILSTORE, NULL);
	struct sigaction sa = { .sa_handler = on_sig };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	log_info("imap mail: serving");
	daemon_ready();
	while (!got_term && !(got_hup && nkids == 0)) {
		struct pollfd p = { lsock, POLLIN, 0 };
		int r = poll(&p, got_hup ? 0 : 1, 1000);
		reap();
		if (r > 0 && (p.revents & POLLIN))
			accept_handoff(in, &lim, lsock, login_uid, max_per_user);
		if (got_hup && r == 0)
			sleep(1);
	}
	if (got_term)
		for (size_t i = 0; i < nkids; i++)
			kill(kids[i].pid, SIGTERM);
	return 0;
}
