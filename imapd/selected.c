/* selected.c — the session's selected folder: open its index, let the view
 * work out what changed (view.c) and have it reported (untagged.c). Commands
 * call these; nothing here is called by session.c. */
#include "imapd/commands.h"
#include "imapd/notify.h"
#include "common/log.h"
#include "common/mailindex.h"
#include "common/mailstore.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

/* From which UID new messages are \Recent to this session: a read-write
 * selection claims what no session has seen yet (RFC 3501 2.3.2: exactly
 * one session sees a message as recent); EXAMINE shows them without
 * taking them. IMAP4rev2 shows no \Recent, but its session has seen the
 * messages all the same: they are not new to the next one. */
static uint32_t recent_from(struct session *s, struct mi *mi, bool readonly)
{
	if (s->recent_unclaimed)
		return UINT32_MAX;
	uint32_t from = readonly ? mi_header(mi)->first_recent : mi_claim_recent(mi);
	return s->rev2 ? UINT32_MAX : from;
}

/* Update the view from an open index and report what changed. */
static void sync_from(struct session *s, struct mi *mi, bool allow_expunge)
{
	struct view_changes c = { .with_uid = true, .mi = mi };
	uint32_t rf = recent_from(s, mi, s->sel->readonly);
	allow_expunge |= notify_immediate_expunges(s);
	enum view_fate f = view_update(s->sel, mi, rf, allow_expunge, &c);
	if (f == VIEW_REBUILT) {
		/* the index was rebuilt under us: the client must resynchronise */
		s_out(s, "* BYE [UNAVAILABLE] Mailbox index was rebuilt; please reconnect");
		s->closing = true;
	} else if (f == VIEW_CHANGED) {
		untagged_changes(s, &c);
	}
	view_changes_free(&c);
}

struct mi *view_sync(struct session *s, bool allow_expunge)
{
	char why[256];
	struct mi *mi = mi_open(s->sel->dir, NULL, NULL, why, sizeof why);
	if (!mi && !ms_exists(s->sel->name)) {
		/* another session deleted (or renamed) the folder under us */
		s_out(s, "* BYE [NONEXISTENT] The selected mailbox was deleted");
		s->closing = true;
		return NULL;
	}
	if (!mi) {
		log_err("user=%s: %s", s->user, why);
		return NULL;
	}
	sync_from(s, mi, allow_expunge);
	return mi;
}

struct mi *open_folder(struct session *s, const char *dir)
{
	char why[256];
	struct mi *mi = mi_open(dir, NULL, NULL, why, sizeof why);
	if (!mi)
		log_err("user=%s: %s", s->user, why);
	return mi;
}

struct mi *view_sync_reuse(struct session *s, struct mi *mi)
{
	sync_from(s, mi, !s->in_fetch_like);
	return mi;
}

int view_open(struct session *s, const char *name, bool readonly)
{
	char *dir = folder_dir(name);
	if (!dir || !ms_exists(name)) {
		free(dir);
		return -1;
	}
	char why[256];
	struct mi *mi = mi_open(dir, NULL, NULL, why, sizeof why);
	if (!mi) {
		log_err("user=%s: %s", s->user, why);
		free(dir);
		return -2;
	}
	struct view *v = view_new(name, dir, readonly, mi, recent_from(s, mi, readonly));
	free(dir);
	mi_close(mi);
	view_free(s->sel);
	s->sel = v;
	return 0;
}

void condstore_enable(struct session *s)
{
	if (s->condstore)
		return;
	s->condstore = true;
	if (s->sel)
		s_out(s, "* OK [HIGHESTMODSEQ %llu] Highest", (unsigned long long)s->sel->modseq);
}

void expunge_indexes(struct session *s, struct mi *mi, size_t *idx, size_t n, bool quiet)
{
	struct view *v = s->sel;
	struct view_changes c = { .with_uid = true, .mi = mi };
	for (size_t k = n; k-- > 0;) {
		size_t i = idx[k];
		if (mi_expunge(mi, v->m[i].uid) < 0 && !v->m[i].gone)
			log_warn("user=%s: cannot expunge uid %u in %s", s->user, v->m[i].uid, v->name);
		view_remove(v, i, &c);
	}
	/* v->modseq stays: what else changed meanwhile (a MOVE's new copies in
	 * this very folder) is still to be reported by the next sync */
	c.modseq = mi_header(mi)->modseq;
	if (!quiet)
		untagged_changes(s, &c);
	view_changes_free(&c);
}
