/* blob.h — JMAP binary data (RFC 8620 6): upload and download.
 *
 * Uploads are kept in the Maildir's tern-blobs/ directory (other Maildir
 * tools ignore it: Maildir++ folders start with a dot), named by their id:
 * "G" + 40 hex digits of the SHA-256 of the content, so the same bytes
 * uploaded twice are one blob. Blobs nothing refers to are removed a day
 * after their upload (RFC 8620 asks for at least an hour). */
#ifndef TERN_HTTPD_BLOB_H
#define TERN_HTTPD_BLOB_H

#include <stddef.h>
#include <stdint.h>

struct sess;
struct ipc_msg;

#define BLOB_DIR "tern-blobs"
#define BLOB_KEEP_S (24 * 3600)
#define BLOB_ID_MAX 255

void blob_upload(struct sess *s, uint32_t id, const char *account, const char *ctype,
		 struct ipc_msg *m);
void blob_download(struct sess *s, uint32_t id, const char *arg);
/* Remove uploads older than BLOB_KEEP_S (at the start of a mail process). */
void blob_expire(void);
/* Open blob_id read-only: 0 with *fd and *len set, -1 if there is no such
 * blob. */
int blob_open(struct sess *s, const char *blob_id, int *fd, size_t *len);

#endif
