/* session.h — a POP3 session process: one logged-in user, confined to that
 * user's Maildir, running the TRANSACTION and UPDATE states (RFC 1939). */
#ifndef TERN_POP3D_SESSION_H
#define TERN_POP3D_SESSION_H

#include "pop3d/pop3d.h"

#include <stdbool.h>
#include <stddef.h>

struct session_args {
	int fd;			/* client socket or socketpair end (TLS relay) */
	const char *user;	/* canonical user@domain */
	const char *maildir;	/* MAIL/DOMAIN/LOCALPART */
	const char *ip;
	bool tls;
	const void *pending;	/* pipelined input the login process read */
	size_t npending;
	const struct pop3d_conf *conf;
};

/* Runs the session to its end; returns the process exit status. */
int session_run(const struct session_args *a);

#endif
