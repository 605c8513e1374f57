/* mime_addr.h — RFC 5322 address lists (section 3.4, with the obsolete forms
 * of section 4.4: routes, comments as display names, CFWS around dots) parsed
 * into the four parts of an IMAP ENVELOPE address (RFC 3501 7.4.2).
 *
 * One parser for every user of addresses: FETCH ENVELOPE (mime_imap.c) and
 * the address keys of SEARCH and SORT, so they agree on what a header says.
 * It never fails: what does not parse is skipped up to the next comma, and a
 * missing local part or domain is filled in (MIME_ADDR_NO_MAILBOX,
 * MIME_ADDR_NO_HOST) so a client never sees a group marker it did not send. */
#ifndef TERN_MIME_ADDR_H
#define TERN_MIME_ADDR_H

#include <stddef.h>

#define MIME_ADDR_MAX		500	/* entries (group markers included) per header */
#define MIME_ADDR_NO_MAILBOX	"MISSING_MAILBOX"
#define MIME_ADDR_NO_HOST	".MISSING-HOST-NAME."

/* One entry. A group is a start entry (mailbox = the group's display name,
 * host NULL), its members, and an end entry (every part NULL), as IMAP's
 * ENVELOPE spells groups. */
struct mime_addr {
	char *name;	/* display name (the phrase, or the comment after an addr-spec), or NULL */
	char *route;	/* obsolete source route "@a,@b", or NULL */
	char *mailbox;	/* local part, unquoted unless it needs the quotes */
	char *host;	/* domain (a literal keeps its brackets) */
};

/* Parse an unfolded header value (as mime_header_each gives it; encoded words
 * are left as they are). *out is malloc'd (NULL when there are no entries);
 * returns the number of entries. */
size_t mime_addr_parse(const char *value, struct mime_addr **out);
void mime_addr_free(struct mime_addr *a, size_t n);

/* The list in value as one line (malloc'd): "Name <mailbox@host>" entries
 * joined by ", ", a group as "name: members;", encoded words in names
 * decoded, filled-in parts left out. SEARCH FROM/TO/CC/BCC match it, so a
 * comment, a route or folding inside an address does not hide it. */
char *mime_addr_text(const char *value);
/* The same for a list mime_addr_parse gave. */
char *mime_addr_list_text(const struct mime_addr *v, size_t n);

#endif
