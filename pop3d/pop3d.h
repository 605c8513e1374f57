/* pop3d.h — what the two roles of tern-pop3d share: settings, the hand-off
 * channel between them, and limits.
 *
 * Login role (tern-pop3d, account tern-pop3d, chroot run_dir): speaks the
 * AUTHORIZATION state on the pop3/pop3s sockets, asks authd, and on success
 * hands the connection to the mail role over RUN/pop3-mail.sock.
 * Mail role (tern-pop3d --mail, account tern-vmail): checks the login token
 * and forks one session process per login, confined to that user's Maildir. */
#ifndef TERN_POP3D_H
#define TERN_POP3D_H

#include "common/login_handoff.h"
#include "common/config.h"
#include "common/netlist.h"
#include "common/instance.h"

#include <stdbool.h>
#include <stdint.h>

extern const struct cfg_key pop3d_settings[];

#define POP3_MAIL_SOCK	"pop3-mail"	/* RUN/pop3-mail.sock */
#define POP3_SERVICE	"pop3"		/* service name in auth requests and tokens */
#define POP3_MAX_PENDING LOGIN_HANDOFF_PENDING_MAX	/* pipelined input carried by a hand-off */

/* The hand-off channel (RUN/pop3-mail.sock, served by the mail role). One
 * connection per hand-off: request, reply, close. */
enum pop3_handoff_msg {
	/* the login hand-off of common/login_handoff.h (no tag): the fd is the
	 * client socket, or one end of a socketpair the login process proxies
	 * TLS through. The session process answers the PASS/AUTH itself. */
	POP3_HANDOFF_REQ = 300,
	/* u32 status (0 = a session process owns the connection now) */
	POP3_HANDOFF_RES,
};

enum pop3_handoff_status {
	HANDOFF_OK = 0,
	HANDOFF_TEMPFAIL = 1,	/* login process answers -ERR [SYS/TEMP] */
	HANDOFF_DENIED = 2,	/* bad token: a bug or an attack, logged */
};

/* Settings read once at start-up by either role. */
struct pop3d_conf {
	char *tls_cert, *tls_key;
	struct netlist plaintext_nets;	/* may log in without TLS */
	unsigned idle_timeout;		/* seconds */
	unsigned login_timeout;		/* seconds for the whole AUTHORIZATION state */
	unsigned dead_client_timeout;	/* seconds without TCP-level answers */
	size_t max_command;		/* bytes, CRLF included */
	unsigned max_errors;
	unsigned max_sessions, max_sessions_per_ip;
	unsigned max_messages;
	unsigned login_delay;		/* seconds; 0 = not announced */
	bool expire_never;
	bool expire_zero;		/* EXPIRE 0: RETR implies DELE at QUIT */
};
void pop3d_conf_load(const struct cfg *c, struct pop3d_conf *out);
void pop3d_conf_free(struct pop3d_conf *c);

int pop3d_login_main(struct instance *in, const struct pop3d_conf *conf);
int pop3d_mail_main(struct instance *in, const struct pop3d_conf *conf);

#endif
