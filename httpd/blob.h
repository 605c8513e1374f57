/* blob.h — JMAP binary data (RFC 8620 6): upload and download.
 *
 * Uploads are kept in the Maildir's tern-blobs/ directory (other Maildir
 * tools ignore it: Maildir++ folders start with a dot), named by their id:
 * "G" + 40 hex digits of the SHA-256 of the content, so the same bytes
 * uploaded twice are one blob. Blobs nothing refers to are removed a day
 * after their upload (RFC 8620 asks for at least an hour). The uploads of a
 * user with a key are sealed instead (blob_seal.h: "K" ids). */
#ifndef TERN_HTTPD_BLOB_H
#define TERN_HTTPD_BLOB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct sess;
struct ipc_msg;

#define BLOB_DIR "tern-blobs"
#define BLOB_KEEP_S (24 * 3600)
#define BLOB_ID_MAX 255

void blob_upload(struct sess *s, uint32_t id, const char *account, const char *ctype,
		 struct ipc_msg *m);
void blob_download(struct sess *s, uint32_t id, const char *arg);
/* Remove uploads older than BLOB_KEEP_S, and sealed ones no key of this run
 * opens (at the start of a mail process). */
void blob_expire(void);
/* Open blob_id read-only: 0 with *fd and *len set, -1 if there is no such
 * blob. */
int blob_open(struct sess *s, const char *blob_id, int *fd, size_t *len);

/* Feed n bytes to fn in pieces: from inl, or read from fd when inl is NULL
 * and fd >= 0 (at offset off for blob_chunks_at). 0, or -1 when fn or a
 * read failed. */
typedef int blob_chunk_fn(void *ctx, const unsigned char *p, size_t n);
int blob_chunks(const void *inl, int fd, size_t n, blob_chunk_fn *fn, void *ctx);
int blob_chunks_at(int fd, off_t off, size_t n, blob_chunk_fn *fn, void *ctx);

#endif
