/* blob_seal.h — uploads of a user with a key (encryption at rest, issue 14),
 * never on disk in clear.
 *
 * An upload waits in tern-blobs/ until Email/import or Email/set uses it, and
 * the server must be able to give the same bytes back (download, attachment):
 * sealing it to the user's public key would lock the server out of it. So it
 * is sealed with a symmetric key that exists only in memory: the mail role
 * draws a random run key when it starts, and each user's mail process derives
 * its own key from it (HMAC-SHA-256 of the address) and forgets the run key.
 * A sealed upload is AES-256-GCM (random nonce, the blob id as associated
 * data), named "K" + 40 hex digits of an HMAC of the content under the user's
 * key (a plain hash of the content would let a thief of the disk confirm a
 * guess). It can be opened for as long as this run of the mail role lasts
 * (a stop, restart or reload forgets the key, and the files left are
 * removed by the next mail process of the user); a stolen disk holds only
 * ciphertext whose key never left memory. */
#ifndef TERN_HTTPD_BLOB_SEAL_H
#define TERN_HTTPD_BLOB_SEAL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define BLOB_SEALED 'K'		/* first letter of a sealed upload's id */

/* The mail role, before it drops privileges: draw the run key. */
void blob_seal_init(void);
/* A user's mail process, first thing after the fork: derive the user's key
 * and wipe the run key from this process. */
void blob_seal_enter(const char *user);
/* When this run's key was drawn: sealed files older than that cannot be
 * opened any more. */
time_t blob_seal_since(void);
/* Should an upload be sealed: the user has a key (its file is in the
 * Maildir, the cwd), usable or not. */
bool blob_seal_wanted(void);
/* The id of n bytes (from inl, or fd when inl is NULL): "K" + 40 hex digits. */
bool blob_seal_id(const void *inl, int fd, size_t n, char out[42]);
/* Write the sealed form of the n bytes to out (nonce, ciphertext, tag). */
int blob_seal_write(const void *inl, int fd, size_t n, const char *blob_id, int out);
/* Open the sealed file in (size bytes): a memfd with the checked clear bytes
 * in *fd and their length in *len, or -1 (wrong key, damaged file). */
int blob_seal_open(int in, size_t size, const char *blob_id, int *fd, size_t *len);

#endif
