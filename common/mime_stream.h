/* mime_stream.h — MIME structure and contents of a message file, in bounded
 * memory whatever the message's size.
 *
 * Maildir files are stored with LF line ends; IMAP counts octets in CRLF form.
 * mime_parse_fd reads the file once, line by line through a fixed buffer, and
 * builds the same tree mime_parse (mime.h) builds for the CRLF form, with every
 * offset in CRLF octets. Its m->buf is a sparse image of the CRLF form: an
 * anonymous mapping of the whole length into which only the parts' headers are
 * written (bounded per part by MIME_MAX_HEADER and in all by MSTREAM_HDR_MAX),
 * so ENVELOPE, BODYSTRUCTURE, sections and HEADER.FIELDS work unchanged (a
 * longer header is read from the file, mime_stream_text) while
 * bodies never occupy memory (untouched pages of the mapping cost nothing).
 * Bodies are read from the file with a crlf_reader (any CRLF range, in chunks),
 * and decoded in chunks for FETCH BINARY with a mstream_dec.
 *
 * Where the limits of mime.h cut the tree (MIME_MAX_PARTS), the streaming tree
 * may cut at a neighbouring part; a line longer than MSTREAM_LINE is never a
 * boundary or an empty line. */
#ifndef TERN_MIME_STREAM_H
#define TERN_MIME_STREAM_H

#include "common/mime.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define MSTREAM_LINE	(64 * 1024)
#define MSTREAM_HDR_MAX	(8 * 1024 * 1024)	/* header bytes kept, all parts */

/* Parse the first max octets of the file at fd (read with pread from offset
 * 0; any line ends). NULL on a read error. *crlf_len (optional) receives the
 * CRLF length. Free with mime_stream_free, never mime_free. */
struct mime_msg *mime_parse_fd(int fd, uint64_t max, uint64_t *crlf_len);
/* The same for a caller that knows the file's size already (its stat of the
 * name): no fstat of its own. */
struct mime_msg *mime_parse_fd_len(int fd, uint64_t len, uint64_t max, uint64_t *crlf_len);
void mime_stream_free(struct mime_msg *m);

/* CRLF octets [start, start + len) of the file at fd, in chunks. */
struct crlf_reader {
	int fd;
	off_t fpos;		/* file offset of raw[rlen] */
	uint64_t cpos;		/* CRLF offset of the next raw byte */
	uint64_t start, end;
	bool prev_cr;
	size_t rpos, rlen;
	char raw[32 * 1024];
};
void crlf_reader_init(struct crlf_reader *r, int fd, uint64_t start, uint64_t len);
/* Up to cap (>= 2) octets of the range into out; 0 at its end or where the
 * file ended early, -1 on a read error. */
ssize_t crlf_read(struct crlf_reader *r, char *out, size_t cap);

/* CRLF octets [off, off + len) of m's message (a header, for HEADER.FIELDS or
 * BINARY): from m's image where it holds them whole (no gap: a header within
 * MIME_MAX_HEADER), else read from fd into *owned, which the caller frees.
 * NULL (and *owned NULL) on a read error or a file shorter than that. */
const char *mime_stream_text(const struct mime_msg *m, int fd, uint64_t off, uint64_t len,
			     char **owned);
/* A HEADER.FIELDS (.NOT) section of m (mime_section) filtered into out from
 * the whole header, however long; an empty header gives the empty line. */
void mime_filter_section(const struct mime_msg *m, int fd, const struct mime_section *sec,
			 struct evbuffer *out);

/* Content-Transfer-Encoding undone chunk by chunk; mime_part_binary and
 * mime_body_text use it too, so every body is decoded the same way.
 * Quoted-printable follows RFC 2045 6.7: "=XX" decodes, "=" at the end of a
 * line (transport padding after it allowed) is a soft line break, whitespace
 * at the end of a line is padding and dropped, anything malformed passes as
 * written. Whitespace is held until the line shows whether it is trailing,
 * at most MSTREAM_QP_WS octets of it (past that it is content). */
enum mstream_enc { MSTREAM_IDENTITY, MSTREAM_BASE64, MSTREAM_QP };
#define MSTREAM_QP_WS		80
#define MSTREAM_DEC_SLACK	(MSTREAM_QP_WS + 8)	/* output beyond the input's length */
struct mstream_dec {
	enum mstream_enc enc;
	unsigned acc;
	int bits;
	int qp;			/* quoted-printable state (mime_stream.c) */
	char hex;		/* the first digit after "=" */
	char ws[MSTREAM_QP_WS];	/* whitespace held */
	size_t nws;
};
/* false for an encoding FETCH BINARY cannot undo (NULL is 7bit). */
bool mstream_dec_init(struct mstream_dec *d, const char *enc);
/* Decode n octets of in into out (room for n + MSTREAM_DEC_SLACK); final: no
 * more input follows. Returns the octets written. */
size_t mstream_dec_run(struct mstream_dec *d, const char *in, size_t n, bool final, char *out);

#endif
