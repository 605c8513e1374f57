/* urlserve.c — the mail role's side of the URLAUTH fetch channel
 * (common/urlfetch.h): URLs of one user fetched for another user's IMAP
 * session (URLFETCH, CATENATE) or for smtpd (BURL).
 *
 * The mail role only accepts and names the asker from the peer's
 * credentials: a session process it forked (its user), or smtpd's account
 * (the submission server, sending for the user it names). Each request then
 * gets a worker process of its own that reads the URL, changes into its
 * owner's Maildir (never creating one) and confines itself there as
 * sessions do before it opens anything in it, checks the token against the
 * owner's mailbox access key and the access identifier against the asker,
 * and writes just the octets the URL names into a pipe whose read end went
 * back with the reply. A worker lives at most URLSERVE_LIFETIME seconds. */
#include "imapd/urlserve.h"
#include "imapd/urlauth.h"
#include "imapd/urlpart.h"
#include "common/ipc.h"
#include "common/listener.h"
#include "common/log.h"
#include "common/mailindex.h"
#include "common/mailjail.h"
#include "common/urlfetch.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define URLSERVE_MAX_WORKERS	32
#define URLSERVE_LIFETIME	60	/* seconds */

static pid_t workers[URLSERVE_MAX_WORKERS];
static size_t nworkers;

void urlserve_reaped(pid_t pid)
{
	for (size_t i = 0; i < nworkers; i++)
		if (workers[i] == pid) {
			workers[i] = workers[--nworkers];
			return;
		}
}

static struct mi *plain_open(void *arg, const char *dir)
{
	char why[256];
	struct mi *mi = mi_open(dir, NULL, NULL, why, sizeof why);
	if (!mi)
		log_err("urlauth: %s", why);
	return mi;
}

static void reply(int c, const struct url_out *o, int fd)
{
	struct ipc_msg m;
	ipc_msg_init(&m, URLFETCH_RES, 1);
	ipc_put_u32(&m, fd >= 0);
	ipc_put_u64(&m, o ? o->size : 0);
	ipc_put_u32(&m, o && o->nul);
	ipc_put_str(&m, o && o->bps ? o->bps : "");
	if (fd >= 0)
		ipc_put_fd(&m, fd);
	ipc_send(c, &m);
	ipc_msg_free(&m);
}

static int to_fd(void *arg, const char *p, size_t n)
{
	return write_all(*(int *)arg, p, n);
}

/* In the owner's Maildir: check url for who and send what it names. */
static void serve(int c, const struct imap_url *u, const char *url, unsigned flags,
		  const struct urlauth_who *who)
{
	const char *why = "no such URL";
	char *dir = url_folder_dir(u);
	struct url_data d;
	struct url_out o = { 0 };
	int p[2] = { -1, -1 };
	if (!dir || !urlauth_allows(u, who, &why) || !urlauth_valid(u, url, dir, &why) ||
	    url_part_open(u, plain_open, NULL, &d, &why) < 0) {
		log_info("urlauth: fetch for %s%s refused: %s", who->submit ? "submit " : "", who->user, why);
		free(dir);
		reply(c, NULL, -1);
		return;
	}
	free(dir);
	if (url_part_describe(&d, flags, &o) < 0 || pipe2(p, O_CLOEXEC) < 0) {
		reply(c, NULL, -1);
	} else {
		reply(c, &o, p[0]);	/* the reply owns the read end */
		if ((flags & URLF_DATA) && url_part_write(&d, flags, to_fd, &p[1]) < 0)
			log_warn("urlauth: the asker took only part of the octets");
		close(p[1]);
		log_info("urlauth: fetched for %s%s: %llu octets", who->submit ? "submit " : "", who->user,
			 (unsigned long long)o.size);
	}
	url_out_free(&o);
	url_part_close(&d);
}

/* The worker: read the request, move into the owner's Maildir, serve. */
static void worker(int c, const char *mail_dir, const char *session_user)
{
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	alarm(URLSERVE_LIFETIME);
	struct ipc_msg m;
	if (ipc_recv(c, &m, 5000) < 0)
		_exit(1);
	const char *url = ipc_get_str(&m, IMAP_URL_MAX);
	unsigned flags = ipc_get_u32(&m);
	const char *submit = ipc_get_str(&m, 320);
	struct urlauth_who who = { session_user, false };
	if (!session_user)
		who = (struct urlauth_who){ submit, true };
	struct imap_url u;
	char *owner = NULL, *maildir = NULL;
	if (m.hdr.type == URLFETCH_REQ && ipc_end(&m) && who.user && mailjail_user_ok(who.user) &&
	    imap_url_parse(url, &u) == 0) {
		owner = imap_url_owner(&u);
		if (owner && u.mech && mailjail_user_ok(owner) && (maildir = mailjail_path(mail_dir, owner)) &&
		    chdir(maildir) == 0) {
			mailjail_landlock(maildir);
			serve(c, &u, url, flags, &who);
			_exit(0);
		}
		log_info("urlauth: fetch for %s%s refused: no such user or URL", who.submit ? "submit " : "",
			 who.user);
	}
	reply(c, NULL, -1);
	_exit(0);
}

/* A worker serves connection c for user (NULL: the submission server). */
static void spawn(int c, const char *mail_dir, const char *user, void (*child_init)(void))
{
	if (nworkers >= URLSERVE_MAX_WORKERS) {
		log_warn("urlauth: %d fetches at once: request refused", URLSERVE_MAX_WORKERS);
		close(c);
		return;
	}
	pid_t p = fork();
	if (p == 0) {
		child_init();	/* the mail role's other descriptors */
		worker(c, mail_dir, user);
	}
	if (p > 0)
		workers[nworkers++] = p;
	else
		log_err("urlauth: fork: %s", strerror(errno));
	close(c);
}

int urlserve_accept(struct accept_gate *gate, int lsock, const char *mail_dir, const char *(*session_user)(pid_t pid),
		    uid_t submit_uid, void (*child_init)(void), pid_t *session)
{
	int c = accept_gate_accept(gate, lsock, SOCK_CLOEXEC);
	if (c < 0)
		return -1;
	unsigned uid;
	int pid;
	const char *user = NULL;
	if (ipc_peer_uid(c, &uid, &pid) < 0 ||
	    (!(user = session_user((pid_t)pid)) && uid != submit_uid && uid != 0)) {
		log_warn("urlauth: request from uid %u pid %d refused", uid, pid);
		close(c);
		return -1;
	}
	if (user) {	/* a session's standing channel (urlfetch.h) */
		*session = (pid_t)pid;
		return c;
	}
	spawn(c, mail_dir, NULL, child_init);
	return -1;
}

int urlserve_channel(int chan, const char *mail_dir, const char *user, void (*child_init)(void),
		     int (*other)(int chan, struct ipc_msg *m, const char *user))
{
	struct ipc_msg m;
	if (ipc_recv(chan, &m, 1000) < 0)
		return -1;	/* the session ended (or sent half a message) */
	if (m.hdr.type != URLFETCH_CHAN && other) {
		int r = other(chan, &m, user);
		ipc_msg_free(&m);
		return r;
	}
	int c = m.hdr.type == URLFETCH_CHAN && ipc_end(&m) ? ipc_take_fd(&m) : -1;
	ipc_msg_free(&m);
	if (c < 0) {
		log_warn("urlauth: session of %s sent no connection on its channel", user);
		return -1;
	}
	spawn(c, mail_dir, user, child_init);
	return 0;
}
