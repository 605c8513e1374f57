/* userdb.h — the user database of an instance, in db_dir (Berkeley DB maps):
 * domains, users (crypt(3) password hash, quota) and aliases. Written by
 * `mailctl` (exclusive lock), read by authd (shared lock). Only authd and
 * mailctl link the parts that read password hashes.
 *
 * (Owned by the auth-service work; `mailctl init --domain D` calls
 * userdb_domain_add.) */
#ifndef TERN_USERDB_H
#define TERN_USERDB_H

#include <stddef.h>

/* Add a local domain; 0, or -1 with a one-line reason in why. Adding an existing
 * domain is not an error. */
int userdb_domain_add(const char *db_dir, const char *domain, char *why, size_t whylen);

#endif
