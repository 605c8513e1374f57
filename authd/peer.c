/* peer.c — which peers authd serves (SO_PEERCRED): root, the instance's own
 * user (its owner, and whoever started us), and the suite's accounts. Resolved
 * before the chroot, which has no /etc/passwd. */
#include "authd/authd.h"
#include "common/privdrop.h"

#include <sys/stat.h>
#include <unistd.h>

static void allow(uid_t uid)
{
	for (size_t i = 0; i < authd.nuids; i++)
		if (authd.uids[i] == uid)
			return;
	if (authd.nuids < AUTHD_MAX_UIDS)
		authd.uids[authd.nuids++] = uid;
}

void peer_allow_defaults(const char *instance_dir)
{
	static const char *const accounts[] = {
		ACCT_SMTPD, ACCT_QUEUED, ACCT_DELIVERD, ACCT_POP3D, ACCT_IMAPD, ACCT_HTTPD, ACCT_AUTHD, ACCT_MAILSTORE,
	};
	struct stat st;
	allow(0);
	allow(getuid());
	if (instance_dir && stat(instance_dir, &st) == 0)
		allow(st.st_uid);
	for (size_t i = 0; i < sizeof accounts / sizeof accounts[0]; i++) {
		uid_t uid;
		gid_t gid;
		if (account_ids(accounts[i], &uid, &gid) == 0)
			allow(uid);
	}
}

bool peer_allowed(uid_t uid)
{
	for (size_t i = 0; i < authd.nuids; i++)
		if (authd.uids[i] == uid)
			return true;
	return false;
}
