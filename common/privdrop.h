/* privdrop.h — the one recipe for giving up root, each step fatal on failure:
 * resolve the account, chroot (optional), chdir, setgroups, setresgid,
 * setresuid, then verify root cannot be regained. When the process is not root
 * the identity is kept (an instance run by an ordinary user) but the chroot is
 * skipped, since only root may chroot. */
#ifndef TERN_PRIVDROP_H
#define TERN_PRIVDROP_H

#include <stdbool.h>
#include <sys/types.h>

/* Account names of the suite (created by `mailctl init`/`make install` as root). */
#define ACCT_SMTPD	"tern-smtpd"
#define ACCT_QUEUED	"tern-queued"
#define ACCT_DELIVERD	"tern-deliverd"
#define ACCT_POP3D	"tern-pop3d"
#define ACCT_IMAPD	"tern-imapd"
#define ACCT_HTTPD	"tern-httpd"
#define ACCT_AUTHD	"tern-auth"
#define ACCT_STS	"tern-sts"	/* the MTA-STS policy fetcher (HTTPS client) */
#define ACCT_MAILSTORE	"tern-vmail"	/* owner of every Maildir */

/* uid/gid of an account; when not root, the caller's own ids. -1 if missing. */
int account_ids(const char *name, uid_t *uid, gid_t *gid);
/* Drop to account, chrooting into dir when non-NULL and running as root. */
void privdrop(const char *account, const char *chroot_dir);
bool running_as_root(void);

#endif
