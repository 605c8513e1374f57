/* view_resume.c — the view of a parked session rebuilt in the process that
 * resumes it, as its client knows the folder: the messages below the
 * ticket's UIDNEXT that the index holds, plus those expunged since the
 * ticket's HIGHESTMODSEQ (the index's tombstones), each with the flags the
 * client was told (a message changed since is marked unknown, so the next
 * view_update reports it). QRESYNC's reasoning (RFC 7162 3.2.5.2), used
 * from the server's side. */
#include "imapd/commands.h"
#include "imapd/park.h"
#include "common/log.h"
#include "common/mailindex.h"
#include "common/mailstore.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

/* A flag set no message has: differs from whatever the index holds. */
#define FLAGS_UNKNOWN UINT32_MAX

static void add_msg(struct view *v, uint32_t uid, uint32_t flags, const char *kw, uint64_t modseq)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 64;
		v->m = xrealloc(v->m, v->cap * sizeof *v->m);
	}
	v->m[v->n++] = (struct vmsg){ uid, flags, xstrdup(kw), false, false, modseq };
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Merge, in UID order, what the index holds and what it expunged since. */
static void fill(struct view *v, const struct mi_rec *recs, size_t nr, uint32_t *gone, size_t ng,
		 uint64_t modseq)
{
	if (ng > 1)
		qsort(gone, ng, sizeof *gone, cmp_u32);
	size_t i = 0, j = 0;
	while ((i < nr && recs[i].uid < v->uidnext) || (j < ng && gone[j] < v->uidnext)) {
		bool take_rec = i < nr && recs[i].uid < v->uidnext && (j >= ng || recs[i].uid < gone[j]);
		if (take_rec) {
			const struct mi_rec *r = &recs[i++];
			add_msg(v, r->uid, r->modseq > modseq ? FLAGS_UNKNOWN : r->flags, r->keywords,
				r->modseq);
		} else {
			add_msg(v, gone[j++], 0, "", 0);	/* the next sync expunges it */
		}
	}
}

static void set_keywords(struct view *v, const char *kws)
{
	char *copy = xstrdup(kws), *save = NULL;
	for (char *k = strtok_r(copy, " ", &save); k; k = strtok_r(NULL, " ", &save)) {
		v->kws = xrealloc(v->kws, (v->nkws + 1) * sizeof *v->kws);
		v->kws[v->nkws++] = xstrdup(k);
	}
	free(copy);
}

/* The messages that were \Recent to the parked session are to this one
 * (RFC 3501 2.3.2: the session that saw them first keeps them). */
static void set_recent(struct view *v, const char *recent)
{
	struct seqset set;
	if (!*recent || !seqset_parse(recent, &set))
		return;
	for (size_t i = 0; i < v->n; i++)
		v->m[i].recent = seqset_has(&set, v->m[i].uid, v->uidnext);
	seqset_free(&set);
}

int view_resume(struct session *s, const struct park_state *ps)
{
	char *dir = folder_dir(ps->folder);
	char why[256];
	struct mi *mi = dir && ms_exists(ps->folder) ? mi_open(dir, NULL, NULL, why, sizeof why) : NULL;
	if (!mi || mi_header(mi)->uidvalidity != ps->uidvalidity) {
		free(dir);
		if (mi)
			mi_close(mi);
		return -1;
	}
	struct view *v = xcalloc(1, sizeof *v);
	v->name = xstrdup(ps->folder);
	v->dir = dir;
	v->readonly = ps->flags & PARK_READONLY;
	v->uidvalidity = ps->uidvalidity;
	v->uidnext = ps->uidnext;
	v->modseq = ps->modseq;
	struct mi_rec *recs;
	size_t nr;
	mi_load(mi, &recs, &nr);
	uint32_t *gone;
	size_t ng = mi_expunged_since(mi, ps->modseq, &gone);
	fill(v, recs, nr, gone, ng, ps->modseq);
	free(gone);
	mi_recs_free(recs, nr);
	mi_close(mi);
	set_keywords(v, ps->kws);
	set_recent(v, ps->recent);
	if (v->n != ps->exists) {
		/* tombstones no longer cover the gap: sequence numbers would be wrong */
		log_warn("user=%s: cannot resume %s: %zu messages, the client knew %u", s->user,
			 ps->folder, v->n, ps->exists);
		view_free(v);
		return -1;
	}
	view_free(s->sel);
	s->sel = v;
	return 0;
}
