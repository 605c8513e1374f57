/* sasl.h — decoding the SASL PLAIN (RFC 4616) and LOGIN responses of POP3
 * AUTH (RFC 5034) and IMAP AUTHENTICATE (RFC 9051 6.2.2). Strict base64; NUL
 * bytes only where PLAIN puts them. */
#ifndef TERN_COMMON_SASL_H
#define TERN_COMMON_SASL_H

#include <stdbool.h>
#include <stddef.h>

#define SASL_LINE_MAX 4096	/* a SASL response line (base64) */

/* Decode strict base64 into out (cap bytes); returns the length or -1. */
long sasl_b64decode(const char *in, unsigned char *out, size_t cap);
/* Encode n bytes into out (room for 4*((n+2)/3)+1). */
void sasl_b64encode(const unsigned char *in, size_t n, char *out);
/* PLAIN "[authzid] NUL authcid NUL passwd": user and password (malloc'd).
 * An authzid other than empty or the authcid is refused (no proxy logins). */
bool sasl_plain(const char *b64, char **user, char **pass);
/* PLAIN from a front-end of the site: authzid the user, authcid "site",
 * the site secret as password (false for anything else). */
bool sasl_plain_site(const char *b64, char **user, char **secret);
/* The other side: base64 of "user NUL site NUL secret", malloc'd (the caller
 * wipes it: it holds the secret). */
char *sasl_plain_site_encode(const char *user, const char *secret);
/* One LOGIN field (user name or password): base64 of text without NUL. */
bool sasl_login_field(const char *b64, char **out);

#endif
