/* fetch_stream.h — a FETCH response sent in pieces. The response text is
 * built under the folder's index lock; a literal from a message file larger
 * than FS_INLINE_MAX is only queued (the file stays open) and read, converted
 * to CRLF and decoded chunk by chunk as the client takes the output, so a
 * message is never held in memory whatever its size. */
#ifndef TERN_IMAPD_FETCH_STREAM_H
#define TERN_IMAPD_FETCH_STREAM_H

#include "common/mime_stream.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evbuffer;

#define FS_INLINE_MAX	(64 * 1024)	/* literals up to this are read at once */
#define FS_CHUNK	(32 * 1024)
/* most octets one chunk of input decodes to */
#define FS_OUT_MAX	(FS_CHUNK + MSTREAM_DEC_SLACK)

struct fstream;

struct fstream *fs_new(void);
void fs_free(struct fstream *f);
/* Where response text goes now (after anything queued so far). */
struct evbuffer *fs_text(struct fstream *f);
/* Text octets and file literals queued and not yet sent. */
size_t fs_queued_text(const struct fstream *f);
size_t fs_queued_files(const struct fstream *f);
bool fs_empty(const struct fstream *f);

/* A literal of the CRLF octets [off, off + len) of fd's file ("~{n}" when
 * tilde). fd stays the caller's (duplicated when the literal is queued). */
void fs_range(struct fstream *f, int fd, uint64_t off, uint64_t len, bool tilde);
/* A literal of the decoded octets [skip, skip + len) of the CRLF range
 * [off, off + clen) undone by a decoder in its initial state. */
void fs_decoded(struct fstream *f, int fd, uint64_t off, uint64_t clen,
		const struct mstream_dec *d, uint64_t skip, uint64_t len, bool tilde);
/* Size of that decoding, and whether octets [skip, skip + len) hold a NUL.
 * -1 on a read error. */
int fs_decoded_size(int fd, uint64_t off, uint64_t clen, const struct mstream_dec *d,
		    uint64_t skip, uint64_t len, uint64_t *size, bool *nul);

/* Move queued output to out until out holds room octets more or the queue
 * is empty. A file that turned out shorter than its literal is padded with
 * spaces (the client still gets the octets announced) and logged. */
void fs_send(struct fstream *f, struct evbuffer *out, size_t room);

#endif
