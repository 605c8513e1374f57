/* userctl_move.c — `mailctl user move ADDRESS HOST` and its other end,
 * `mailctl user receive` (docs/SCALING.md, "Moving a user").
 *
 * Run on the user's current mailbox host, as root:
 *   1. check: shared directory, HOST in mailbox_hosts and answering on its
 *      internal port, the Maildir here, site_copy_command set;
 *   2. hold: the directory names SITE_HOLD_HOST for the user, so front-ends
 *      keep new mail queued and logins are told "try later";
 *   3. drain: wait until this host's queue has no delivery of the user's mail
 *      in progress (one routed before the hold would still write here);
 *   4. copy: "tern-move 1 ADDRESS\n" and a tar stream of the whole Maildir
 *      (every folder, the index and UID files: nothing is rebuilt) into
 *      site_copy_command, which runs `mailctl user receive` on HOST; that
 *      unpacks beside the place, makes it durable and renames it in;
 *   5. switch: the directory names HOST; mail held anywhere goes there;
 *   6. the copy here is renamed to MAIL/.moved/DOMAIN/LOCAL.TIME (kept until
 *      the administrator removes it).
 * Any failure before 5 puts the user's host back: nothing was removed. */
#include "mailctl/commands.h"
#include "mailctl/queue_admin.h"
#include "mailctl/site_status.h"
#include "mailctl/userctl.h"
#include "common/directory.h"
#include "common/privdrop.h"
#include "common/site.h"
#include "common/userdb.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MOVE_MAGIC "tern-move 1 "
#define MOVE_HEADER_MAX (sizeof MOVE_MAGIC + USERDB_MAX_ADDR + 1)
#define DRAIN_MAX_MS 120000	/* longest wait for deliveries in progress */
#define DRAIN_QUIET_MS 2000	/* no delivery of the user's mail for this long */
#define COMMAND_MAX_WORDS 64

/* ---- step 3: the queue drain ---- */

struct drain {
	const char *addr;
	unsigned busy;
};

static void drain_line(const char *line, bool ok, void *arg)
{
	struct drain *d = arg;
	if (ok && queue_list_active_for(line, d->addr))
		d->busy++;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
	}
}

/* 0 once no delivery of the user's mail has been in progress here for
 * DRAIN_QUIET_MS, -1 (printed) when the queue cannot be asked or stays busy. */
static int drain_queue(const struct instance *in, const char *addr)
{
	struct drain d = { .addr = addr };
	uint64_t start = now_ms(), quiet = 0;
	for (;;) {
		d.busy = 0;
		if (queue_admin_each(in, "list", "", drain_line, &d) != 0)
			return cmd_error("cannot list this host's queue: the user's mail may still "
					 "be on its way to the Maildir here");
		uint64_t now = now_ms();
		if (d.busy)
			quiet = 0;
		else if (!quiet)
			quiet = now;
		else if (now - quiet >= DRAIN_QUIET_MS)
			return 0;
		if (now - start > DRAIN_MAX_MS)
			return cmd_error("%u message(s) for %s still being delivered here after %d s",
					 d.busy, addr, DRAIN_MAX_MS / 1000);
		sleep_ms(200);
	}
}

/* ---- step 4: the copy ---- */

/* site_copy_command split at blanks, %h %a %% replaced; NULL if too long. */
static char **copy_argv(const char *command, const struct site_host *h)
{
	char **argv = xcalloc(COMMAND_MAX_WORDS + 1, sizeof *argv);
	size_t n = 0;
	const char *p = command;
	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (n == COMMAND_MAX_WORDS) {
			for (size_t i = 0; i < n; i++)
				free(argv[i]);
			free(argv);
			return NULL;
		}
		char *w = xstrdup("");
		while (*p && *p != ' ' && *p != '\t') {
			const char *add = NULL;
			char one[2] = { *p, 0 };
			if (*p == '%' && (p[1] == 'h' || p[1] == 'a' || p[1] == '%')) {
				add = p[1] == 'h' ? h->name : p[1] == 'a' ? h->addr : "%";
				p += 2;
			} else {
				add = one;
				p++;
			}
			char *t = xasprintf("%s%s", w, add);
			free(w);
			w = t;
		}
		argv[n++] = w;
	}
	if (!n) {
		free(argv);
		return NULL;
	}
	return argv;
}

static void argv_free(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

/* Wait for pid; its exit status, or 128+signal. */
static int wait_exit(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return 255;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* fork + exec argv with stdin from in_fd and stdout to out_fd (-1: keep). */
static pid_t spawn(char *const argv[], int in_fd, int out_fd, int close_fd)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	if ((in_fd >= 0 && dup2(in_fd, 0) < 0) || (out_fd >= 0 && dup2(out_fd, 1) < 0))
		_exit(126);
	if (in_fd > 1)
		close(in_fd);
	if (out_fd > 1)
		close(out_fd);
	if (close_fd >= 0)
		close(close_fd);
	execvp(argv[0], argv);
	fprintf(stderr, "mailctl: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* Send the header and the Maildir MAIL/DOMAIN/LOCAL through the command. */
static int copy_out(const char *mail_dir, const char *addr, char **cmd)
{
	char local[USERDB_MAX_ADDR];
	strlcpy_t(local, addr, sizeof local);
	char *at = strchr(local, '@');
	*at = '\0';
	char *domdir = xasprintf("%s/%s", mail_dir, at + 1);
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		free(domdir);
		return cmd_error("pipe: %s", strerror(errno));
	}
	/* The header fits the pipe's buffer: written before either side runs. */
	char *hdr = xasprintf("%s%s\n", MOVE_MAGIC, addr);
	bool hdr_ok = write(p[1], hdr, strlen(hdr)) == (ssize_t)strlen(hdr);
	free(hdr);
	char *tar[] = { "tar", "-c", "-f", "-", "-C", domdir, local, NULL };
	pid_t reader = hdr_ok ? spawn(cmd, p[0], -1, p[1]) : -1;
	pid_t writer = reader > 0 ? spawn(tar, -1, p[1], p[0]) : -1;
	close(p[0]);
	close(p[1]);
	int wst = writer > 0 ? wait_exit(writer) : 255;
	int rst = reader > 0 ? wait_exit(reader) : 255;
	free(domdir);
	if (!hdr_ok || reader < 0 || writer < 0)
		return cmd_error("cannot start the copy: %s", strerror(errno));
	/* The receiving end first: when it fails, tar dies of SIGPIPE. */
	if (rst)
		return cmd_error("%s failed (exit %d): the copy did not arrive", cmd[0], rst);
	if (wst)
		return cmd_error("tar of the Maildir failed (exit %d)", wst);
	return 0;
}

/* ---- counting messages (a late delivery would show) ---- */

static unsigned long nfiles;

static int count_cb(const char *path, const struct stat *st, int type, struct FTW *f)
{
	if (type == FTW_F && f->level >= 2) {
		const char *slash = path + f->base - 1, *p = slash;
		while (p > path && p[-1] != '/')
			p--;
		size_t n = (size_t)(slash - p);
		if ((n == 3 && (!strncmp(p, "new", 3) || !strncmp(p, "cur", 3))))
			nfiles++;
	}
	return 0;
}

static unsigned long count_messages(const char *dir)
{
	nfiles = 0;
	nftw(dir, count_cb, 16, FTW_PHYS);
	return nfiles;
}

/* ---- mailctl user move ---- */

/* Put the user's host back after a failure before the switch. */
static int restore(struct userctl *u, const char *addr, const char *host)
{
	char why[512];
	if (dir_user_set_host(u->dir, addr, host, why, sizeof why) < 0)
		return cmd_error("and the user's host could not be put back to \"%s\" (%s): run "
				 "`mailctl user host %s %s`", host, why, addr, host);
	fprintf(stderr, "mailctl: %s stays on %s; nothing was removed\n", addr,
		host[0] ? host : "this host");
	return 1;
}

static void ignore_line(const char *line, bool ok, void *arg) { }

int userctl_move(struct userctl *u, const char *address, const char *target)
{
	char addr[USERDB_MAX_ADDR], host[USERDB_MAX_HOST + 1], why[512];
	struct userdb_user e;
	struct site s;
	if (!userdb_norm_address(address, addr))
		return cmd_error("\"%s\" is not a valid address (local@domain)", address);
	if (!userdb_norm_host(target, host) || !host[0])
		return cmd_error("\"%s\" is not a host name or IP address", target);
	if (dir_backend(u->dir) != DIR_PGSQL)
		return cmd_error("a move needs the site's shared directory (directory = pgsql)");
	int r = dir_user_get(u->dir, addr, &e);
	if (r != 1)
		return r < 0 ? cmd_error("cannot read the directory: %s", dir_last_error())
			     : cmd_error("no such user: %s", addr);
	if (site_load(&u->in, &s, why, sizeof why) < 0)
		return cmd_error("%s", why);
	int rc = 1;
	const struct site_host *h = site_find(&s, host);
	bool resume = !strcmp(e.host, SITE_HOLD_HOST);
	char *cmdline = (char *)cfg_str(&u->in.conf, "site_copy_command");
	char **cmd = NULL;
	char local[USERDB_MAX_ADDR];
	strlcpy_t(local, addr, sizeof local);
	*strchr(local, '@') = '\0';
	char *maildir = xasprintf("%s/%s/%s", u->in.mail_dir, userdb_domain_of(addr), local);
	struct stat st;
	if (s.role == SITE_FRONTEND) {
		cmd_error("run the move on the user's mailbox host: a front-end stores no mail");
	} else if (!resume && !site_is_local(&s, e.host)) {
		cmd_error("%s is stored on %s, not here: run the move there", addr, e.host);
	} else if (site_is_local(&s, host)) {
		cmd_error("%s is this host", host);
	} else if (!h) {
		cmd_error("%s is not in mailbox_hosts (tern.conf) of this host", host);
	} else if (!cmdline[0]) {
		cmd_error("site_copy_command is not set (tern.conf): nothing can carry the Maildir to %s",
			  host);
	} else if (!(cmd = copy_argv(cmdline, h))) {
		cmd_error("site_copy_command has no words or more than %d", COMMAND_MAX_WORDS);
	} else if (lstat(maildir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		cmd_error("no Maildir %s here: nothing to move", maildir);
	} else {
		rc = 0;
	}
	char probe[160];
	if (rc == 0 && !site_probe_one(h, probe, sizeof probe)) {
		rc = cmd_error("mailbox host %s (%s port %u) %s: %s stays here", host, h->addr,
			       h->port, probe, addr);
	}
	/* Where the user goes back to on failure. */
	const char *back = resume ? s.self : e.host;
	if (rc == 0 && !resume && dir_user_set_host(u->dir, addr, SITE_HOLD_HOST, why, sizeof why) < 0)
		rc = cmd_error("cannot mark the user as being moved: %s", why);
	else if (rc == 0 && drain_queue(&u->in, addr) < 0)
		rc = restore(u, addr, back);
	unsigned long before = 0;
	if (rc == 0) {
		before = count_messages(maildir);
		if (copy_out(u->in.mail_dir, addr, cmd) != 0)
			rc = restore(u, addr, back);
	}
	if (rc == 0 && dir_user_set_host(u->dir, addr, host, why, sizeof why) < 0) {
		rc = cmd_error("the Maildir is on %s but the directory could not say so (%s): run "
			       "`mailctl user host %s %s` (until then the user's mail waits in the "
			       "queues)", host, why, addr, host);
	}
	if (rc == 0) {
		/* Step 6: the old copy out of the way, kept. */
		char stamp[32];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
		char *keep_dir = xasprintf("%s/.moved/%s", u->in.mail_dir, userdb_domain_of(addr));
		char *keep = xasprintf("%s/%s.%s", keep_dir, local, stamp);
		if (mkdir_p(keep_dir, 0700) < 0 || rename(maildir, keep) < 0) {
			rc = cmd_error("moved to %s, but the old copy %s could not be renamed to %s: %s "
				       "(remove it by hand)", host, maildir, keep, strerror(errno));
		} else {
			unsigned long after = count_messages(keep);
			if (after > before)
				rc = cmd_error("%lu message(s) reached the old copy during the move: they "
					       "are in %s, not on %s", after - before, keep, host);
			else
				printf("%s moved to %s (the old copy is in %s)\n", addr, host, keep);
		}
		free(keep);
		free(keep_dir);
		/* Mail this host held for the user may go now. */
		queue_admin_each(&u->in, "flush", "", ignore_line, NULL);
	}
	argv_free(cmd);
	free(maildir);
	site_free(&s);
	return rc;
}

/* ---- mailctl user receive (on the new host, stdin from the copy) ---- */

static int remove_cb(const char *path, const struct stat *st, int type, struct FTW *f)
{
	remove(path);
	return 0;
}

static uid_t own_uid;
static gid_t own_gid;

static int chown_cb(const char *path, const struct stat *st, int type, struct FTW *f)
{
	return lchown(path, own_uid, own_gid) < 0 ? -1 : 0;
}

/* The header line, read a byte at a time so tar gets the rest of stdin. */
static bool read_header(char *addr)
{
	char line[MOVE_HEADER_MAX + 1];
	size_t n = 0;
	for (;;) {
		char c;
		ssize_t k = read(0, &c, 1);
		if (k < 0 && errno == EINTR)
			continue;
		if (k != 1 || n == MOVE_HEADER_MAX)
			return false;
		if (c == '\n')
			break;
		line[n++] = c;
	}
	line[n] = '\0';
	size_t m = strlen(MOVE_MAGIC);
	return n > m && !memcmp(line, MOVE_MAGIC, m) && userdb_norm_address(line + m, addr);
}

/* mkdir path (kept if present) owned by the mail store account. */
static int store_dir(const char *path, bool chown_it)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -1;
	return chown_it ? chown(path, own_uid, own_gid) : 0;
}

int userctl_receive(struct userctl *u)
{
	char addr[USERDB_MAX_ADDR], why[512];
	struct userdb_user e;
	struct site s;
	if (!read_header(addr))
		return cmd_error("receive: stdin does not start with a move header (run by mailctl "
				 "user move through site_copy_command)");
	int r = dir_user_get(u->dir, addr, &e);
	if (r != 1)
		return r < 0 ? cmd_error("cannot read the directory: %s", dir_last_error())
			     : cmd_error("no such user: %s", addr);
	if (strcmp(e.host, SITE_HOLD_HOST))
		return cmd_error("%s is not being moved (its mailbox host is \"%s\"): refused", addr,
				 e.host);
	if (site_load(&u->in, &s, why, sizeof why) < 0)
		return cmd_error("%s", why);
	enum site_role role = s.role;
	site_free(&s);
	if (role == SITE_FRONTEND)
		return cmd_error("a front-end stores no mail: refused");
	bool root = running_as_root();
	if (root && account_ids(ACCT_MAILSTORE, &own_uid, &own_gid) < 0)
		return cmd_error("account %s does not exist", ACCT_MAILSTORE);
	char local[USERDB_MAX_ADDR];
	strlcpy_t(local, addr, sizeof local);
	*strchr(local, '@') = '\0';
	char *domdir = xasprintf("%s/%s", u->in.mail_dir, userdb_domain_of(addr));
	char *dest = xasprintf("%s/%s", domdir, local);
	char *tmp = xasprintf("%s/.tern-receive-XXXXXX", domdir);
	char *got = NULL;
	int rc = 1;
	struct stat st;
	if (lstat(dest, &st) == 0) {
		cmd_error("%s exists here already: refused (move it away first)", dest);
		goto out;
	}
	if (store_dir(u->in.mail_dir, root) < 0 || store_dir(domdir, root) < 0) {
		cmd_error("cannot create %s: %s", domdir, strerror(errno));
		goto out;
	}
	if (!mkdtemp(tmp)) {
		cmd_error("cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	char *tar[] = { "tar", "-x", "-f", "-", "-C", tmp, "--no-same-owner", NULL };
	pid_t pid = spawn(tar, -1, -1, -1);
	int tst = pid > 0 ? wait_exit(pid) : 255;
	got = xasprintf("%s/%s", tmp, local);
	if (tst) {
		cmd_error("tar could not unpack the copy (exit %d)", tst);
		goto clean;
	}
	if (lstat(got, &st) < 0 || !S_ISDIR(st.st_mode)) {
		cmd_error("the copy holds no Maildir %s", local);
		goto clean;
	}
	if (root && nftw(got, chown_cb, 16, FTW_PHYS) != 0) {
		cmd_error("cannot give the copy to %s: %s", ACCT_MAILSTORE, strerror(errno));
		goto clean;
	}
	/* Durable before it is in place: every file and directory of the copy. */
	int tfd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tfd < 0 || syncfs(tfd) < 0) {
		cmd_error("cannot sync the copy: %s", strerror(errno));
		if (tfd >= 0)
			close(tfd);
		goto clean;
	}
	close(tfd);
	if (rename(got, dest) < 0) {
		cmd_error("cannot rename the copy to %s: %s", dest, strerror(errno));
		goto clean;
	}
	int dfd = open(domdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd) < 0) {
		cmd_error("cannot sync %s: %s", domdir, strerror(errno));
		if (dfd >= 0)
			close(dfd);
		goto clean;
	}
	close(dfd);
	rc = 0;
clean:
	nftw(tmp, remove_cb, 16, FTW_DEPTH | FTW_PHYS);
out:
	free(got);
	free(tmp);
	free(dest);
	free(domdir);
	return rc;
}
