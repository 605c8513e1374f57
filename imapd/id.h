/* id.h — the ID command (RFC 2971), the same before login (login.c) and
 * after (commands.c): the client's parameters are read and checked against
 * the RFC's limits, and tern names itself. */
#ifndef TERN_IMAPD_ID_H
#define TERN_IMAPD_ID_H

#include <stddef.h>

struct ip;

#define ID_MAX_PAIRS	30	/* RFC 2971 3.3: field-value pairs */
#define ID_MAX_FIELD	30	/* octets of a field name */
#define ID_MAX_VALUE	1024	/* octets of a value */

/* The untagged reply tern sends. */
#define ID_RESPONSE	"* ID (\"name\" \"tern\")"

/* Read "SP (string SP nstring ...)" or "SP NIL" to the end of the command:
 * NULL if well-formed and within the limits, else the text of the BAD. */
const char *id_check(struct ip *ip);
/* The same, and the client's address a front-end of the site passes on
 * (x-originating-ip, an IP literal) into origin when origin is not NULL. */
const char *id_read(struct ip *ip, char *origin, size_t originlen);

#endif
