/* view.h — the selected folder as one session has told its client about it,
 * and what changed since, as data.
 *
 * The view knows nothing of sessions or output. view_update compares the
 * folder's index with the view, brings the view up to date and fills a
 * struct view_changes; untagged.c (the one renderer) turns those into the
 * untagged responses the session's enabled extensions call for (EXPUNGE or
 * VANISHED, FETCH FLAGS with UID and MODSEQ, EXISTS, RECENT, FLAGS with
 * PERMANENTFLAGS). Commands reach both through selected.c (view_sync & co).
 *
 * Consumers of the changes (CONTEXT=SEARCH/SORT updates, NOTIFY): subscribe
 * with view_subscribe(v, fn, arg). Every change set the session reports for
 * this view (by view_sync, by the session's own EXPUNGE/MOVE and STORE) is
 * passed to fn after the standard responses for it were written, so sequence
 * numbers in the session's output are those after the change: an expunge
 * carries the sequence number it had when it was reported (struct
 * vc_expunge), changed and added messages are named by UID (view_seq gives
 * their sequence number now). A subscription lives as long as the selection
 * (view_free drops it); fn must not call view_sync.
 *
 * view_subscribe_hook takes a struct view_hook with more: an early function
 * called before the standard responses (RFC 5267 4.3.4 wants a REMOVEFROM
 * naming an expunged message by its sequence number before the EXPUNGE;
 * the view already lacks the expunged messages then), and a drop function
 * that frees arg when the subscription ends (view_unsubscribe, view_free).
 * While subscribers run, c->mi is the folder's open index (or NULL), so
 * they can read the messages (a search program's keys). */
#ifndef TERN_IMAPD_VIEW_H
#define TERN_IMAPD_VIEW_H

#include "imapd/parser.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mi;
struct mi_rec;
struct session;

struct vmsg {
	uint32_t uid;
	uint32_t flags;
	char *kw;		/* space-separated keywords */
	bool recent;
	bool gone;		/* expunged by someone else, not yet reported */
	uint64_t modseq;
};

/* One expunge as reported: its sequence number at that moment (expunges are
 * reported one after the other, each renumbering those after it). */
struct vc_expunge {
	uint32_t seq, uid;
};

/* What changed in the view in one step, in the order to report it:
 * expunges, then flag changes, then new messages. */
struct view_changes {
	struct vc_expunge *expunged;
	size_t nexpunged, capexpunged;
	uint32_t *changed;	/* UIDs whose flags or keywords changed (or that a STORE named) */
	size_t nchanged, capchanged;
	uint32_t *added;	/* UIDs new to the view, ascending */
	size_t nadded, capadded;
	bool with_uid;		/* FETCH responses name the UID (unsolicited ones always do) */
	bool new_keywords;	/* the view's keywords grew: FLAGS and PERMANENTFLAGS first */
	bool own;		/* the session's own STORE: its replies, whatever NOTIFY asks */
	uint32_t *quiet;	/* UIDs the session's own STORE .SILENT changed: no FETCH, */
	size_t nquiet, capquiet;	/* but subscribers learn of them */
	struct mi *mi;		/* the folder's index while subscribers run, or NULL */
	uint64_t modseq;	/* the view's HIGHESTMODSEQ after the change */
};

typedef void (*view_hook_fn)(struct session *s, const struct view_changes *c, void *arg);

struct view_hook {
	view_hook_fn fn;	/* after the change set's standard responses */
	void *arg;
	view_hook_fn early;	/* NULL, or before them */
	void (*drop)(void *arg);	/* NULL, or frees arg when the subscription ends */
};

struct view {
	char *name, *dir;
	bool readonly;
	uint32_t uidvalidity, uidnext;
	uint64_t modseq;
	struct vmsg *m;
	size_t n, cap;
	/* SEARCHRES (RFC 5182): the UIDs of the last SEARCH ... RETURN (SAVE),
	 * sorted; "$" names those still here. Lives as long as the selection. */
	uint32_t *saved;
	size_t nsaved;
	struct view_hook *hooks;
	size_t nhooks;
	/* the keywords the client has been told of in FLAGS (RFC 3501 7.2.6:
	 * a FETCH may show no keyword that FLAGS has not named) */
	char **kws;
	size_t nkws;
};

/* The view of an open index; messages from UID recent_from on are \Recent
 * to this session (UINT32_MAX: none, as under IMAP4rev2). */
struct view *view_new(const char *name, const char *dir, bool readonly, struct mi *mi,
		      uint32_t recent_from);
void view_free(struct view *v);

enum view_fate { VIEW_SAME, VIEW_CHANGED, VIEW_REBUILT };
/* Bring v in step with the index: changes appended to c. Messages expunged
 * by others are only marked gone unless allow_expunge. New messages from
 * UID recent_from on are \Recent to this session. VIEW_REBUILT: the index
 * has another UIDVALIDITY (nothing changed in v). */
enum view_fate view_update(struct view *v, struct mi *mi, uint32_t recent_from, bool allow_expunge,
			   struct view_changes *c);
/* Drop message i (the session expunged it), recorded in c. */
void view_remove(struct view *v, size_t i, struct view_changes *c);
/* Message i's keywords are now kw (the session's own STORE): a keyword new
 * to the view sets c->new_keywords. */
void view_set_keywords(struct view *v, size_t i, const char *kw, struct view_changes *c);
/* Record that uid's flags changed (the session's own STORE). */
void view_changes_flag(struct view_changes *c, uint32_t uid);
/* The same for a STORE .SILENT: subscribers see it, the client gets no FETCH. */
void view_changes_quiet(struct view_changes *c, uint32_t uid);
bool view_changes_empty(const struct view_changes *c);
void view_changes_free(struct view_changes *c);

/* No message is \Recent any more (IMAP4rev2 enabled). */
void view_forget_recent(struct view *v);
size_t view_recent(const struct view *v);

void view_subscribe(struct view *v, view_hook_fn fn, void *arg);
void view_subscribe_hook(struct view *v, const struct view_hook *h);
void view_unsubscribe(struct view *v, view_hook_fn fn, void *arg);

/* Sequence number (1-based) of uid, or 0. */
uint32_t view_seq(const struct view *v, uint32_t uid);
/* Every number of a message sequence set names a message (RFC 3501 9: else BAD). */
bool view_seqs_valid(const struct view *v, const struct seqset *set);
/* Is the message at view index i in set (numbers are UIDs when uid)? Knows "$". */
bool view_set_has(const struct view *v, const struct seqset *set, size_t i, bool uid);
/* Replace the saved search result (UIDs in any order; n may be 0). */
void view_save_result(struct view *v, const uint32_t *uids, size_t n);
/* Resolve a set to a sorted list of 0-based view indexes. */
size_t view_resolve(const struct view *v, const struct seqset *set, bool uid, size_t **idx);

#endif
