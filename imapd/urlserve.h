/* urlserve.h — the mail role's URLAUTH fetch service (urlserve.c; the
 * channel is described in common/urlfetch.h). */
#ifndef TERN_IMAPD_URLSERVE_H
#define TERN_IMAPD_URLSERVE_H

#include <sys/types.h>

/* One connection on lsock: from a session process (session_user(pid) names
 * its user), or from the submission server (peer uid submit_uid, or root).
 * A worker process serves it; child_init closes what it must not keep. */
void urlserve_accept(int lsock, const char *mail_dir, const char *(*session_user)(pid_t pid),
		     uid_t submit_uid, void (*child_init)(void));
/* A process the mail role reaped (a worker's slot frees). */
void urlserve_reaped(pid_t pid);

#endif
