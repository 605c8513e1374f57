/* mailjail.c — a post-login mail process's Maildir and its confinement
 * (see mailjail.h). */
#include "common/mailjail.h"
#include "common/auth_client.h"
#include "common/daemon.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/mailstore.h"
#include "common/util.h"

#include <fcntl.h>
#include <linux/landlock.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
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

void mailjail_landlock(const char *maildir)
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

int mailjail_handoff(int lsock, uid_t login_uid, uint16_t type, const char *service,
		     const char *role, struct ipc_msg *m, int *fd, const char **user)
{
	int c = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
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
	*fd = ipc_take_fd(m);
	*user = ipc_get_str(m, 320);
	const char *token = ipc_get_str(m, 256);
	if (m->hdr.type == type && *fd >= 0 && *user && token && mailjail_user_ok(*user) &&
	    auth_token_verify(daemon_secret(), token, service, *user, (int64_t)time(NULL)))
		return 0;
	log_warn("%s: invalid hand-off refused (user=%s)", role, *user && **user ? *user : "?");
	if (*fd >= 0)
		close(*fd);
	ipc_msg_free(m);
	return -1;
}
