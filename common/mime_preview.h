/* mime_preview.h — the preview text of a message (RFC 8970 PREVIEW): the
 * start of its first text part (text/plain preferred in an alternative,
 * HTML reduced to its text), decoded to UTF-8, whitespace and control
 * characters collapsed into single spaces, at most MIME_PREVIEW_MAX
 * characters. Nothing is taken from attachments or from an encrypted
 * message (encryption at rest: the server holds no key, so the preview of
 * a sealed message is empty rather than guessed from its clear envelope). */
#ifndef TERN_MIME_PREVIEW_H
#define TERN_MIME_PREVIEW_H

#include <stdbool.h>
#include <stddef.h>

struct mime_msg;

#define MIME_PREVIEW_MAX 256	/* characters (RFC 8970 3.1) */

#define MIME_PREVIEW_SCAN (64 * 1024)	/* octets of the text part read */

struct mime_part;

/* The part of m the preview comes from, NULL when there is none. */
const struct mime_part *mime_preview_part(const struct mime_msg *m);
/* The preview from the first n octets of part p's body (at most
 * MIME_PREVIEW_SCAN are read), malloc'd UTF-8. */
char *mime_preview_text(const struct mime_part *p, const char *body, size_t n);
/* The preview of m held in memory (mime_parse), "" when m has no text to
 * show. A tree of mime_stream.h reads the body with a crlf_reader and calls
 * mime_preview_text. */
char *mime_preview(const struct mime_msg *m);
/* Is m encrypted as a whole (PGP/MIME multipart/encrypted, S/MIME
 * application/pkcs7-mime)? */
bool mime_is_encrypted(const struct mime_msg *m);
/* Octets of the UTF-8 character at s (at most n octets), 0 when invalid
 * (overlong forms, surrogates and values past U+10FFFF included). */
size_t mime_utf8_char(const char *s, size_t n);

#endif
