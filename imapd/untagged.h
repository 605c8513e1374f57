/* untagged.h — the one place that turns the selected folder's state and its
 * changes (view.h) into untagged responses, as the session's enabled
 * extensions want them: EXPUNGE, or VANISHED under QRESYNC (RFC 7162 3.2.10);
 * FETCH FLAGS with UID, and MODSEQ once CONDSTORE is on (RFC 7162 3.1.4);
 * EXISTS, and RECENT unless IMAP4rev2 (RFC 9051 drops \Recent); FLAGS with
 * OK [PERMANENTFLAGS]. */
#ifndef TERN_IMAPD_UNTAGGED_H
#define TERN_IMAPD_UNTAGGED_H

#include "imapd/view.h"

#include <event2/buffer.h>
#include <stdbool.h>
#include <stdint.h>

struct session;

/* Report c (the selected view's changes), then pass it to the view's
 * subscribers (view_subscribe). */
void untagged_changes(struct session *s, const struct view_changes *c);
/* "* n FETCH (FLAGS (...)[ UID u][ MODSEQ (m)])" for view index i; MODSEQ
 * when CONDSTORE is on or with_modseq. */
void untagged_fetch_flags(struct session *s, size_t i, bool with_uid, bool with_modseq);
/* "* FLAGS (...)" and "* OK [PERMANENTFLAGS (...)]" of the selected folder. */
void untagged_flags(struct session *s);
/* "* VANISHED [(EARLIER) ]uid-set" for uids (sorted here). */
void report_vanished(struct session *s, uint32_t *uids, size_t n, bool earlier);
/* A flag list "(\Seen \Recent $Label)". */
void s_flags(struct evbuffer *b, uint32_t flags, const char *kw, bool recent);
/* " MODSEQ (n)" when CONDSTORE is enabled. */
void s_modseq(struct session *s, struct evbuffer *b, uint64_t modseq);

#endif
