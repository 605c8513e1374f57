/* push.h — JMAP push by EventSource (RFC 8620 7.3) in a mail process: the
 * open streams, their ping timers, and "state" events when the states of
 * the types a stream listens to change. */
#ifndef TERN_HTTPD_PUSH_H
#define TERN_HTTPD_PUSH_H

#include <stdint.h>

struct sess;

void push_init(struct sess *s);
void push_free(struct sess *s);
/* A GET of the event source: query is its query string. */
void push_start(struct sess *s, uint32_t id, const char *query);
/* The front says the client of stream id went away. */
void push_cancel(struct sess *s, uint32_t id);
/* Something may have changed: compare the states with those each stream
 * was last told and send what differs. */
void push_check(struct sess *s);

#endif
