/* daemon.h — the contract between the master (mailctl) and each daemon.
 *
 * The master execs BINDIR/tern-NAME -c DIR with:
 *   TERN_LISTEN_FDS  "name:fd,name:fd"  listening sockets the master bound
 *                    (smtp, submission, smtps, pop3, pop3s, imap, imaps)
 *   TERN_READY_FD    a pipe: the daemon writes one byte once it serves
 *   TERN_LOG_FD      log file (when log = file), already open for append
 *   TERN_SECRET_FD   (optional) 32 random bytes of this run, given only to authd and
 *                    the post-login mail roles: they authenticate login hand-offs
 *   TERN_AGENT_KEY_FD (optional) 32 other random bytes of this run, given only to
 *                    queued and the delivery agents: an agent proves with them
 *                    that the master started it (common/queue_proto.h)
 * Daemons start as root (when the master is root), read their config, open what
 * they need, then privdrop() and serve. SIGTERM: stop now. SIGHUP: (network
 * daemons) stop accepting and exit when the current sessions end, the master
 * having already started a new generation; (others) re-read config in place. */
#ifndef TERN_DAEMON_H
#define TERN_DAEMON_H

#include "common/instance.h"

/* Every daemon binary understands:
 *   -c DIR           the instance (default $TERN_CONFIG, else /etc/tern)
 *   -f               log to stderr (debugging by hand)
 *   --print-config   write its documented default NAME.conf to stdout, exit 0
 *                    (`mailctl init` makes the config files this way, so each
 *                    setting is declared once: in the daemon's schema)
 *   --check          load tern.conf and NAME.conf, print every error as
 *                    "file:line: message", exit 0 if none else 1 (`mailctl check`)
 * Other arguments (role flags such as --local) are left in *rest.
 *
 * daemon_init parses these, loads tern.conf into *in and NAME.conf into *conf
 * against schema, and sets up logging. It exits on --print-config/--check and on
 * any config error (logged). */
struct daemon_rest {
	int argc;
	char **argv;
};
void daemon_init(const char *name, const struct cfg_key *schema, int argc, char **argv,
		 struct instance *in, struct cfg *conf, struct daemon_rest *rest);
/* Frees what daemon_init loaded, on a daemon's exit path: a sanitizer build
 * checks for leaks when main returns, and these would be reported there. */
void daemon_done(struct instance *in, struct cfg *conf);
/* Listening socket the master passed for name, or -1. With several `listen`
 * addresses the master passes one socket per address under the same name:
 * daemon_listen_fds fills fds (up to max) and returns how many there are. */
int daemon_listen_fd(const char *name);
int daemon_listen_fds(const char *name, int *fds, int max);
/* Tell the master we serve. Call it after privdrop(): as root, the master then
 * checks the process runs under its account and chroot (/proc) and kills it if not. */
void daemon_ready(void);
/* The login hand-off secret (32 bytes) or NULL when none was passed. */
const unsigned char *daemon_secret(void);
/* The delivery agent key (32 bytes) or NULL when none was passed. */
const unsigned char *daemon_agent_key(void);
/* Wipe both keys from memory: a session process forked by a mail role must not
 * keep the secret that mints login tokens. */
void daemon_forget_keys(void);

#endif
