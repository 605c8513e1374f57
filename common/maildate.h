/* maildate.h — dates in mail (RFC 5322 3.3, with the obsolete forms of 4.3:
 * two-digit years, named zones, comments) and in JSON protocols (RFC 3339). */
#ifndef TERN_MAILDATE_H
#define TERN_MAILDATE_H

#include <stdbool.h>
#include <stdint.h>

/* An RFC 5322 date-time: seconds since the epoch (UTC) and the zone's
 * offset in minutes east of UTC. false when s is no date. */
bool maildate_parse(const char *s, int64_t *t, int *offset_min);
/* "YYYY-MM-DDTHH:MM:SS+HH:MM" in the zone of offset_min ("Z" for UTC when
 * zulu is true and the offset is 0). */
void maildate_rfc3339(int64_t t, int offset_min, bool zulu, char out[32]);
/* An RFC 3339 date-time (any offset, optional fraction): UTC seconds. */
bool maildate_parse_rfc3339(const char *s, int64_t *t);
/* The RFC 5322 form, for a Date: header: "Mon, 02 Mar 2026 10:00:00 +0000". */
void maildate_rfc5322(int64_t t, int offset_min, char out[40]);

#endif
