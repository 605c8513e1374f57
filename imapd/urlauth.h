/* urlauth.h — URLAUTH (RFC 4467): mailbox access keys and the INTERNAL
 * mechanism.
 *
 * Each folder that ever had a URL authorised has a random access key in
 * DIR/tern-urlauth.key (URLAUTH_KEY_LEN octets, 0600, beside the folder's
 * index; made by GENURLAUTH, replaced by RESETKEY). A URL's token is
 * HMAC-SHA256 under that key of the URL text up to and including
 * ";URLAUTH=access", in hex, so a token cannot be forged without the key
 * and RESETKEY revokes every URL of the folder at once. Everything here
 * works on the folder directories of the owner's Maildir (the working
 * directory): the caller runs as, and is confined to, the URL's owner. */
#ifndef TERN_IMAPD_URLAUTH_H
#define TERN_IMAPD_URLAUTH_H

#include "imapd/imapurl.h"

#include <stdbool.h>
#include <stddef.h>

#define URLAUTH_KEY_LEN		32
#define URLAUTH_KEY_FILE	"tern-urlauth.key"
#define URLAUTH_MECH		"INTERNAL"

/* The key of the folder in dir; with create, made when there is none.
 * 0, or -1 (none, or unreadable: logged). */
int urlauth_key(const char *dir, bool create, unsigned char key[URLAUTH_KEY_LEN]);
/* Replace the folder's key by a new random one (no key stays no key).
 * 0 or -1. */
int urlauth_reset(const char *dir);
/* The hex token for the first len octets of url under key (malloc'd). */
char *urlauth_sign(const unsigned char key[URLAUTH_KEY_LEN], const char *url, size_t len);

/* Who asks for a URL: an IMAP session's user, or (submit) the submission
 * server sending mail for that user (BURL). */
struct urlauth_who {
	const char *user;
	bool submit;
};

/* May w fetch URL u (u->access: "user+X", "submit+X", "authuser",
 * "anonymous")? false with *why. */
bool urlauth_allows(const struct imap_url *u, const struct urlauth_who *w, const char **why);
/* Is the complete URL text url (parsed as u) authorised by the key of its
 * folder (dir), and not expired? false with *why. */
bool urlauth_valid(const struct imap_url *u, const char *url, const char *dir, const char **why);

#endif
