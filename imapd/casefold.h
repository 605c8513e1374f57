/* casefold.h — SEARCH's string comparison (RFC 3501 6.4.4: case-insensitive
 * substring match) for UTF-8: both sides are case-folded and put in NFKD form
 * (Unicode's full case folding, then compatibility decomposition, twice:
 * Unicode's compatibility caseless match, D146; RFC 5051's i;unicode-casemap
 * with folding where it titlecases, as Dovecot does), so FROM JÜRGEN finds
 * "Jürgen" and SUBJECT STRASSE finds "Straße".
 * The Unicode tables are ICU's (libicu). ASCII-only strings keep the plain
 * ASCII comparison, which gives the same answer faster. */
#ifndef TERN_IMAPD_CASEFOLD_H
#define TERN_IMAPD_CASEFOLD_H

#include <stdbool.h>
#include <stddef.h>

/* s[0..len) folded and decomposed, as NUL-terminated UTF-8 (malloc'd), its
 * length in *outlen; invalid UTF-8 becomes U+FFFD. NULL when ICU fails. */
char *casefold_utf8(const char *s, size_t len, size_t *outlen);
/* s[0..len) in RFC 5051's "titlecase-canonicalized UTF-8" (each code point
 * titlecased, then NFKD): the i;unicode-casemap key that SORT and THREAD
 * compare octet by octet (RFC 5255 4: I18NLEVEL=1). For ASCII it is the
 * upper case. Malloc'd, NULL when ICU fails. */
char *casemap_title_utf8(const char *s, size_t len, size_t *outlen);
/* Does hay[0..hl) contain needle, ignoring case (Unicode, as above)? */
bool casefold_contains(const char *hay, size_t hl, const char *needle);

#endif
