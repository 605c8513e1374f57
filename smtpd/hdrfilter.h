/* hdrfilter.h — a streaming filter over the message as smtpd spools it: in the
 * header block, each complete header field (with its folded lines) is offered
 * to a predicate and dropped if it says so (forged Authentication-Results that
 * claim our host name, RFC 8601 5). The body passes through untouched. Input is
 * the unstuffed message with CRLF line endings, in arbitrary pieces. */
#ifndef TERN_SMTPD_HDRFILTER_H
#define TERN_SMTPD_HDRFILTER_H

#include <stdbool.h>
#include <stddef.h>

#define HDRFILTER_FIELD_MAX 65536	/* longer fields are judged by this much */

typedef void (*hdrfilter_out)(void *arg, const char *p, size_t n);
/* Drop this field? complete is false for a field longer than
 * HDRFILTER_FIELD_MAX, of which field holds the beginning: the predicate then
 * drops what it cannot tell apart from a field to drop. */
typedef bool (*hdrfilter_drop)(void *arg, const char *field, size_t n, bool complete);

struct hdrfilter {
	hdrfilter_out out;
	hdrfilter_drop drop;
	void *arg;
	bool in_body;
	bool at_bol;		/* next byte starts a line */
	char *field;		/* the field being collected */
	size_t len;
	bool overflow;		/* field too long: the rest passes through as it comes */
	bool discard;		/* field too long and dropped: the rest is discarded */
	unsigned dropped;
};

void hdrfilter_init(struct hdrfilter *f, hdrfilter_out out, hdrfilter_drop drop, void *arg);
void hdrfilter_feed(struct hdrfilter *f, const char *p, size_t n);
/* End of message: flush what is held. */
void hdrfilter_end(struct hdrfilter *f);
void hdrfilter_free(struct hdrfilter *f);

#endif
