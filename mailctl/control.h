/* control.h — the master's control channel, RUN/master.sock (mode 0600, and the
 * master also checks the peer is root or its own user). One request, one reply,
 * framed with common/ipc.h. */
#ifndef TERN_MAILCTL_CONTROL_H
#define TERN_MAILCTL_CONTROL_H

#include <stdint.h>

struct ipc_msg;

enum ctl_type {
	CTL_STATUS = 1,		/* reply text: "NAME PID USER STATE" lines */
	CTL_RELOAD = 2,		/* reply once the new generation serves (or failed) */
	CTL_STOP = 3,		/* reply once every process of the instance is gone */
	CTL_REPLY = 100,	/* u32 result (0 ok), str text */
};

#define CTL_TEXT_MAX (64 * 1024)

/* Send a request and wait for the reply. Returns the result code (0 ok) with
 * *text (caller frees), or -1 if the master cannot be reached (errno EACCES:
 * the caller may not use the socket). */
int ctl_request(const char *run_dir, enum ctl_type type, int timeout_ms, char **text);
/* The type of a request the master read: CTL_STATUS, CTL_RELOAD or CTL_STOP,
 * or -1 for anything else (requests carry no fields and no fd). */
int ctl_request_type(struct ipc_msg *m);
/* Reply on a control connection and close it. */
void ctl_reply(int fd, uint32_t result, const char *text);

#endif
