/* selected.c — the session's selected folder: open its index, let the view
 * work out what changed (view.c) and have it reported (untagged.c). Commands
 * call these; nothing here is called by session.c. */
#include "imapd/commands.h"
#include "common/log.h"
#include "common/mailindex.h"
#include "common/mailstore.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

/* Update the view from an open index and report what changed. */
static void sync_from(struct session *s, struct mi *mi, const uint32_t *fresh, size_t nfresh,
		      bool allow_expunge)
{
	struct view_changes c = { .with_uid = true };
	enum view_fate f = view_update(s->sel, mi, fresh, nfresh, !s->rev2, allow_expunge, &c);
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
	uint32_t *fresh;
	size_t nfresh;
	struct mi *mi = mi_open(s->sel->dir, &fresh, &nfresh, why, sizeof why);
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
	/* with what other opens of this folder in this session moved from new/ */
	view_take_fresh(s->sel, &fresh, &nfresh);
	sync_from(s, mi, fresh, nfresh, allow_expunge);
	free(fresh);
	return mi;
}

struct mi *open_folder(struct session *s, const char *dir)
{
	char why[256];
	uint32_t *fresh = NULL;
	size_t nfresh = 0;
	bool sel = s->sel && !strcmp(s->sel->dir, dir);
	struct mi *mi = mi_open(dir, sel ? &fresh : NULL, sel ? &nfresh : NULL, why, sizeof why);
	if (!mi)
		log_err("user=%s: %s", s->user, why);
	if (nfresh)
		view_add_fresh(s->sel, fresh, nfresh);
	free(fresh);
	return mi;
}

struct mi *view_sync_reuse(struct session *s, struct mi *mi)
{
	sync_from(s, mi, NULL, 0, !s->in_fetch_like);
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
	uint32_t *fresh;
	size_t nfresh;
	struct mi *mi = mi_open(dir, &fresh, &nfresh, why, sizeof why);
	if (!mi) {
		log_err("user=%s: %s", s->user, why);
		free(dir);
		return -2;
	}
	sort_uids(fresh, nfresh);
	struct view *v = view_new(name, dir, readonly, mi, fresh, nfresh, !s->rev2);
	free(fresh);
	free(dir);
	mi_close(mi);
	view_free(s->sel);
	s->sel = v;
	return 0;
}

void expunge_indexes(struct session *s, struct mi *mi, size_t *idx, size_t n, bool quiet)
{
	struct view *v = s->sel;
	struct view_changes c = { .with_uid = true };
	for (size_t k = n; k-- > 0;) {
		size_t i = idx[k];
		if (mi_expunge(mi, v->m[i].uid) < 0 && !v->m[i].gone)
			log_warn("user=%s: cannot expunge uid %u in %s", s->user, v->m[i].uid, v->name);
		view_remove(v, i, &c);
	}
	v->modseq = mi_header(mi)->modseq;
	c.modseq = v->modseq;
	if (!quiet)
		untagged_changes(s, &c);
	view_changes_free(&c);
}
