/* append_seal.h — encryption at rest for what a user stores over APPEND
 * (tern.conf encrypt_append; issue 14). For a user with a key, the literals
 * of an APPEND are spooled in memory (memfd), never in the folder's tmp/,
 * and each message is sealed into tmp/ (common/mailcrypt.h) just before the
 * index takes it. Without a key every call is the plain tmp/ file. */
#ifndef TERN_IMAPD_APPEND_SEAL_H
#define TERN_IMAPD_APPEND_SEAL_H

struct cfg;
struct append_seal;

/* Once in the mail role, before sessions fork and confine themselves: the
 * site's settings, and what the crypto libraries load on first use. */
void append_seal_setup(const struct cfg *tern_conf);

/* For one APPEND command, in the session (cwd: the user's Maildir). NULL
 * with *why NULL: messages are stored as they come (no key, or
 * encrypt_append = no). NULL with *why: the key cannot be used now and the
 * site defers (encrypt_failure = defer): the NO to answer. */
struct append_seal *append_seal_begin(const char *user, const char **why);
void append_seal_end(struct append_seal *z);

/* A spool file named base for a literal or a composed message (write end):
 * a memfd when sealing, else DIR/tmp/BASE created. fd, or -1. */
int append_spool_create(struct append_seal *z, const char *dir, const char *base);
/* Spool file base read from its start (a CATENATE TEXT part). fd, or -1. */
int append_spool_open(struct append_seal *z, const char *dir, const char *base);
/* The index takes base next: when sealing, write DIR/tmp/BASE sealed from
 * its memfd now. 0, or -1 (logged). */
int append_spool_seal(struct append_seal *z, const char *dir, const char *base);

#endif
