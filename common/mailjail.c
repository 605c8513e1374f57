/* mailjail.c — a post-login mail process's Maildir and its confinement
 * (see mailjail.h). */
#include "common/mailjail.h"
#include "common/auth_client.h"
#include "common/daemon.h"
#include "common/ipc.h"
#include "common/landlock.h"
#include "common/listener.h"
#include "common/login_handoff.h"
#include "common/log.h"
#include "common/mailstore.h"
#include "common/sandbox.h"
#include "common/util.h"
#include "common/workahead.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

bool mailjail_user_ok(const char *user)
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

int mailjail_landlock(const char *maildir)
{
	const struct ll_rule rules[] = {
		{ .path = maildir, .fd = -1, .access = LL_READ | LL_WRITE | LL_DIRS },
		{ .path = "/usr/lib", .fd = -1, .access = LL_READ },
	};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)	/* Landlock needs it */
		return -1;
	int abi = landlock_confine(rules, ARRAY_LEN(rules), 0);
	if (abi >= 0)
		log_debug("landlock: ABI %d, confined to %s", abi, maildir);
	return abi;
}

int mailjail_confine(const char *role, const char *maildir, unsigned allow, unsigned helpers)
{
	/* helpers are made inside the Landlock domain (a thread inherits its
	 * creator's) and before RLIMIT_NPROC 0 forbids new threads; the
	 * seccomp filter below covers them too */
	if (mailjail_landlock(maildir) < 0)
		return -1;
	workahead_start(helpers);
	if (sandbox_session_limits() < 0)
		return -1;
	sandbox_seccomp(role, allow);
	return 0;
}

char *mailjail_path(const char *mail_dir, const char *user)
{
	const char *at = strchr(user, '@');
	return xasprintf("%s/%s/%.*s", mail_dir, at + 1, (int)(at - user), user);
}

int mailjail_prepare(const char *mail_dir, const char *user, char **out)
{
	const char *at = strchr(user, '@');
	char *path = mailjail_path(mail_dir, user);
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

int mailjail_handoff(struct accept_gate *gate, int lsock, uid_t login_uid, uint16_t type,
		     const char *service, const char *role, struct ipc_msg *m,
		     struct login_handoff *h)
{
	int c = accept_gate_accept(gate, lsock, SOCK_CLOEXEC);
	if (c < 0)
		return -1;
	unsigned uid;
	int pid;
	if (ipc_peer_uid(c, &uid, &pid) < 0 || (uid != login_uid && uid != 0 && uid != getuid())) {
		log_warn("%s: hand-off from uid %u refused", role, uid);
		close(c);
		return -1;
	}
	int r = ipc_recv(c, m, 2000);
	close(c);
	if (r < 0)
		return -1;
	if (login_handoff_get(m, type, role, h)) {
		if (mailjail_user_ok(h->user) &&
		    auth_token_verify(daemon_secret(), h->token, service, h->user, (int64_t)time(NULL)))
			return 0;
		log_warn("%s: invalid hand-off refused (user=%s)", role, *h->user ? h->user : "?");
	}
	if (h->fd >= 0)
		close(h->fd);
	ipc_msg_free(m);
	return -1;
}
