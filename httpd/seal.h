/* seal.h — encryption at rest for what JMAP stores (Email/set create):
 * with tern.conf encrypt_append on and a key in the user's Maildir
 * (tern-pubkey), the message is sealed to it before it is filed, as IMAP
 * APPEND does (imapd/append_seal.c); a key that cannot be used follows
 * encrypt_failure (common/mailcrypt_policy.c): refused, or stored in clear
 * with a warning. */
#ifndef TERN_HTTPD_SEAL_H
#define TERN_HTTPD_SEAL_H

#include <stdint.h>

struct cfg;
struct mi;

/* Read tern.conf's settings; before the mail process confines itself. */
void seal_setup(const struct cfg *tern_conf);
/* mi_add_fd of the message in fd (CRLF or LF line ends) into the folder mi
 * (at dir, the cwd being the Maildir), sealed when it should be. 0, or -1
 * with *why set when the policy refuses it (else a store failure). */
int seal_add(struct mi *mi, const char *dir, const char *user, int fd, uint32_t flags,
	     const char *keywords, int64_t idate, uint32_t *uid, const char **why);

#endif
