/* urlserve.h — the mail role's URLAUTH fetch service (urlserve.c; the
 * channel is described in common/urlfetch.h). */
#ifndef TERN_IMAPD_URLSERVE_H
#define TERN_IMAPD_URLSERVE_H

#include <sys/types.h>

struct accept_gate;

/* One connection on lsock (through gate, see accept_gate_wait_ms): from the submission server (peer uid
 * submit_uid, or root), served by a worker process (child_init closes what
 * it must not keep), then -1; or a session process's channel
 * (session_user(pid) names its user): returned, with *session its pid, for
 * the caller to watch with urlserve_channel(). -1 also when refused. */
int urlserve_accept(struct accept_gate *gate, int lsock, const char *mail_dir, const char *(*session_user)(pid_t pid),
		    uid_t submit_uid, void (*child_init)(void), pid_t *session);
struct ipc_msg;

/* A session's channel is readable: the connection it sent is served for user
 * by a worker; a message of another type goes to other (a park, park.h),
 * whose result is returned. -1: the channel is closed or broken (the caller
 * closes it). */
int urlserve_channel(int chan, const char *mail_dir, const char *user, void (*child_init)(void),
		     int (*other)(int chan, struct ipc_msg *m, const char *user));
/* A process the mail role reaped (a worker's slot frees). */
void urlserve_reaped(pid_t pid);

#endif
