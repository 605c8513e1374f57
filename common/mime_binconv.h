/* mime_binconv.h — a message, or a message/rfc822 part, with every body
 * part's Content-Transfer-Encoding undone (base64 and quoted-printable to
 * binary, the header field rewritten to "binary"), as BINARY of such a part
 * gives it (RFC 3516 4.2, URLAUTH=BINARY in RFC 5524). Multipart structure,
 * boundaries, preambles and epilogues stay as they are.
 *
 * Works on a tree from mime_parse_fd (mime_stream.h) and its file: the
 * bodies are read and decoded in chunks and handed to a sink, never held
 * whole. Run it once with a counting sink for the size, then for the octets. */
#ifndef TERN_MIME_BINCONV_H
#define TERN_MIME_BINCONV_H

#include "common/mime.h"

#include <stdbool.h>
#include <stddef.h>

/* The binary form of part p of m (read from fd): for a message/rfc822 part
 * (or the root) the whole entity, header included; for a leaf part its
 * decoded body. -1 on a read error, an encoding that cannot be undone, or
 * when the sink stops it. */
int mime_binary_convert(const struct mime_msg *m, int fd, const struct mime_part *p, mime_sink sink,
			void *arg);

#endif
