/* mailjail.h — preparing and confining a post-login mail process (imapd's
 * and httpd's mail roles): the user name checked before it becomes a path,
 * the Maildir made on first use (with the special-use folders once), and
 * the Landlock rules that keep the process inside it. */
#ifndef TERN_MAILJAIL_H
#define TERN_MAILJAIL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct accept_gate;

struct ipc_msg;
struct login_handoff;

/* user@domain with nothing that could escape MAIL/DOMAIN/LOCALPART. */
bool mailjail_user_ok(const char *user);
/* MAIL/DOMAIN/LOCALPART of a user that passed mailjail_user_ok (malloc'd). */
char *mailjail_path(const char *mail_dir, const char *user);
/* Make sure MAIL/DOMAIN/LOCALPART exists (*out, malloc'd, set also on
 * failure); a new one gets the special-use folders. 0 or -1. */
int mailjail_prepare(const char *mail_dir, const char *user, char **out);
/* Restrict the filesystem to the Maildir (and the system's charset
 * converters, read-only), with no TCP and no signals outside the process
 * (common/landlock.h). Kernels without Landlock keep the account's own
 * permissions as the boundary (ABI 0). The ABI, or -1 if it failed. */
int mailjail_landlock(const char *maildir);
/* A mail session process (IMAP, JMAP), its Maildir the working directory:
 * the Landlock above, up to `helpers` threads for index builds
 * (common/workahead.h; 0: none), then no_new_privs, no core, no fork
 * (sandbox_session_limits) and role's seccomp allow-list (SB_* groups,
 * common/sandbox.h), which every thread gets. -1 (errno set) if confining
 * failed; the filter itself never fails quietly. */
int mailjail_confine(const char *role, const char *maildir, unsigned allow, unsigned helpers);
/* Accept one hand-off on lsock (through gate: see accept_gate_wait_ms for
 * when to watch lsock): from the login process (uid login_uid), root, or our
 * own uid; a message of type (common/login_handoff.h) for a user that passes
 * mailjail_user_ok, with a login token valid for service and that user (run
 * secret). 0 with *m and *h set (h's strings point into m; the caller owns
 * h->fd and frees m); -1 when refused (logged as role) or broken, everything
 * closed and freed. */
int mailjail_handoff(struct accept_gate *gate, int lsock, uid_t login_uid, uint16_t type,
		     const char *service, const char *role, struct ipc_msg *m,
		     struct login_handoff *h);

#endif
