/* login_handoff.h — the message that hands a logged-in client from a login
 * process to its mail role: imapd (IMAP_HANDOFF on RUN/imap-mail.sock),
 * pop3d (POP3_HANDOFF_REQ on RUN/pop3-mail.sock) and httpd (HTTP_HANDOFF on
 * RUN/http-mail.sock) send the same fields in the same order:
 *   str user (canonical), str token (authd's, for the service and user),
 *   str tag (IMAP's LOGIN/AUTHENTICATE tag; "" for the others), str client
 *   address, u32 flags (LOGIN_HF_*), bytes input the client sent after its
 *   login command (pipelined), and the client connection (or one end of a
 *   socketpair the login process relays through) attached as the fd.
 * One encoder and one decoder, so the limits below are the same for every
 * daemon: the decoder refuses a missing or oversized field, a flag bit it
 * does not know, no fd, or bytes after the last field, with a log line. It
 * checks only the shape; the token and the user name as a path are the mail
 * role's to check (auth_token_verify, mailjail_user_ok). */
#ifndef TERN_LOGIN_HANDOFF_H
#define TERN_LOGIN_HANDOFF_H

#include "common/ipc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest legitimate value of each field (string lengths without NUL). */
#define LOGIN_HANDOFF_USER_MAX	  320		/* local part 64 + '@' + domain 255 (RFC 5321 4.5.3.1) */
#define LOGIN_HANDOFF_TOKEN_MAX	  95		/* AUTH_TOKEN_MAX less its NUL (auth_client.h) */
#define LOGIN_HANDOFF_TAG_MAX	  63		/* imapd reads tags into char[64] (parser.h) */
#define LOGIN_HANDOFF_IP_MAX	  63		/* an IPv6 text with a scope id fits */
#define LOGIN_HANDOFF_PENDING_MAX (64 * 1024)	/* the login process forwards at most this */

#define LOGIN_HF_TLS	1u	/* the client is on TLS (relayed by the login process) */
#define LOGIN_HF_ALL	LOGIN_HF_TLS

struct login_handoff {
	const char *user, *token, *tag, *ip;	/* tag may be NULL when sending: "" */
	uint32_t flags;
	const void *pending;
	size_t npending;
	int fd;
};

/* Encode h into m (initialised with the channel's message type); m takes
 * h->fd. npending over LOGIN_HANDOFF_PENDING_MAX is the caller's bug: the
 * sender cuts it first (the receiver would refuse the message). */
void login_handoff_put(struct ipc_msg *m, const struct login_handoff *h);
/* Decode a received message of type; role names the receiver in the log
 * line of a refusal. Strings and pending point into m. h->fd is always set
 * (-1 when none) and is the caller's to close, accepted or not. */
bool login_handoff_get(struct ipc_msg *m, uint16_t type, const char *role,
		       struct login_handoff *h);

#endif
