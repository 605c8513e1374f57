/* dsn.h — RFC 3464 delivery status notifications: a multipart/report with a
 * human-readable part, a message/delivery-status part and the original message
 * (message/rfc822) or its headers (text/rfc822-headers). CRLF line endings, as
 * every spool file has. */
#ifndef TERN_QUEUED_DSN_H
#define TERN_QUEUED_DSN_H

#include "queued/qrec.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum dsn_kind { DSN_FAILED, DSN_DELAYED, DSN_DELIVERED };

struct dsn_input {
	const struct qmsg *m;		/* the original message's record */
	const char *hostname;		/* Reporting-MTA */
	enum dsn_kind kind;
	const uint32_t *rcpts;		/* indices of the recipients reported */
	uint32_t nrcpt;
	const char *original;		/* original message bytes (CRLF) */
	size_t original_len;
	bool full;			/* include the whole message, else headers only */
	time_t now;
};

/* The complete DSN message; *len set. */
char *dsn_build(const struct dsn_input *in, size_t *len);
/* Length of the header block of msg (up to and including the empty line). */
size_t dsn_header_len(const char *msg, size_t len);

#endif
