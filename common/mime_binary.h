/* mime_binary.h — a message sent as binary (RFC 3516 literal8 APPEND) made
 * storable as lines.
 *
 * A Maildir file holds lines (tern stores LF line ends and serves CRLF), so
 * octets of a binary body part — NULs, CR and LF on their own — would not come
 * back as they went in. As Dovecot does, every part that is not a multipart
 * or message/rfc822 and whose Content-Transfer-Encoding is "binary" is
 * re-encoded as base64 with its field rewritten: FETCH BINARY then decodes
 * exactly the octets the client sent, and BODY shows a valid 7-bit part.
 * Everything else passes unchanged. */
#ifndef TERN_MIME_BINARY_H
#define TERN_MIME_BINARY_H

#include "common/mime.h"

#include <stddef.h>

/* The message buf[0, len) (as sent, CRLF line ends) with its binary parts
 * base64-encoded (76-column CRLF lines), to put. 0, or put's -1. */
int mime_binary_encode(const char *buf, size_t len, mime_sink put, void *arg);

#endif
