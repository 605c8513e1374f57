/* vacation.h — a user's vacation response (RFC 8621 8, auto-replies per
 * RFC 3834): set over JMAP (httpd/jmap_vacation.c), read by the local
 * delivery agent (deliverd/vacation.c). Both may touch only the user's
 * Maildir, so that is where it lives:
 *   tern-vacation.json  the VacationResponse object as JMAP shows it (the
 *                       RFC's property names) plus "state", a counter;
 *   tern-vacation.sent  "UNIXTIME ADDRESS" lines: who got a reply when, so
 *                       a sender gets one per VACATION_PERIOD_S (removed
 *                       whenever the response is changed). */
#ifndef TERN_COMMON_VACATION_H
#define TERN_COMMON_VACATION_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define VACATION_FILE "tern-vacation.json"
#define VACATION_SENT_FILE "tern-vacation.sent"
#define VACATION_MAX (256 * 1024)	/* a larger file is not read */
#define VACATION_PERIOD_S (7 * 24 * 3600)	/* RFC 5230's default :days 7 */
#define VACATION_SENT_MAX 1000		/* senders remembered (oldest dropped) */

/* The stored object of the Maildir at maildir (its root): a new reference,
 * the disabled default when there is none, NULL when the file cannot be
 * read or is not an object. */
json_t *vacation_read(const char *maildir);
/* Store obj (replacing the old one through a temporary file) and forget
 * who was answered. 0, or -1 with errno (EFBIG: over VACATION_MAX). */
int vacation_write(const char *maildir, json_t *obj);

struct vacation {
	int64_t from, to;	/* 0: no bound */
	const char *subject, *text, *html;	/* NULL when not set */
	json_t *obj;		/* owns the strings */
};

/* The response of maildir when it is on at now: true with v filled in
 * (vacation_free it), else false. */
bool vacation_active(const char *maildir, time_t now, struct vacation *v);
void vacation_free(struct vacation *v);

/* Has addr been answered within the period before now? If not, remember
 * that it is (now). Under a lock on the file, for concurrent deliveries. */
bool vacation_sent_check(const char *maildir, const char *addr, time_t now);

#endif
