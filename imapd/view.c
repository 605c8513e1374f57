/* view.c — the selected folder as the client knows it, and the untagged
 * updates (EXISTS, RECENT, EXPUNGE, FETCH FLAGS) that keep the two in step
 * with the index, which other sessions and deliverd change concurrently. */
#include "imapd/session.h"
#include "common/log.h"
#include "common/mailindex.h"
#include "common/mailstore.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

void view_free(struct view *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++)
		free(v->m[i].kw);
	free(v->m);
	free(v->saved);
	free(v->fresh);
	free(v->name);
	free(v->dir);
	free(v);
}

static void view_append(struct view *v, const struct mi_rec *r, bool recent)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 64;
		v->m = xrealloc(v->m, v->cap * sizeof *v->m);
	}
	v->m[v->n++] = (struct vmsg){ r->uid, r->flags, xstrdup(r->keywords), recent, false, r->modseq };
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* The UIDs new to this session (\Recent), sorted once so that each lookup is a
 * binary search: a first open of a large folder stays O(n log n). */
static void sort_fresh(uint32_t *l, size_t n)
{
	if (n > 1)
		qsort(l, n, sizeof *l, cmp_u32);
}

static bool in_list(const uint32_t *l, size_t n, uint32_t uid)
{
	return n && bsearch(&uid, l, n, sizeof *l, cmp_u32) != NULL;
}

uint32_t view_seq(const struct view *v, uint32_t uid)
{
	size_t lo = 0, hi = v->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v->m[mid].uid == uid)
			return (uint32_t)mid + 1;
		if (v->m[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

static int cmp_size(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

void view_save_result(struct view *v, const uint32_t *uids, size_t n)
{
	free(v->saved);
	v->saved = xcalloc(n + 1, sizeof *v->saved);
	if (n)
		memcpy(v->saved, uids, n * sizeof *uids);
	v->nsaved = n;
	sort_fresh(v->saved, n);
}

bool view_set_has(const struct view *v, const struct seqset *set, size_t i, bool uid)
{
	if (set->last)
		return in_list(v->saved, v->nsaved, v->m[i].uid);
	if (uid)
		return seqset_has(set, v->m[i].uid, v->n ? v->m[v->n - 1].uid : 0);
	return seqset_has(set, (uint32_t)i + 1, (uint32_t)v->n);
}

bool view_seqs_valid(const struct view *v, const struct seqset *set)
{
	if (set->last)
		return true;	/* "$" names only messages still here */
	for (size_t i = 0; i < set->n; i++) {
		if ((set->r[i].lo != UINT32_MAX && set->r[i].lo > v->n) ||
		    (set->r[i].hi != UINT32_MAX && set->r[i].hi > v->n))
			return false;
		if (!v->n)
			return false;	/* even "*" names no message in an empty folder */
	}
	return true;
}

size_t view_resolve(const struct view *v, const struct seqset *set, bool uid, size_t **idx)
{
	size_t n = 0;
	*idx = xcalloc(v->n + 1, sizeof **idx);
	if (!v->n)
		return 0;
	if (set->last) {
		for (size_t i = 0; i < v->n; i++)
			if (view_set_has(v, set, i, uid))
				(*idx)[n++] = i;
		return n;
	}
	uint32_t star = uid ? v->m[v->n - 1].uid : (uint32_t)v->n;
	if (!uid) {
		for (size_t i = 0; i < v->n; i++)
			if (seqset_has(set, (uint32_t)i + 1, star))
				(*idx)[n++] = i;
		return n;
	}
	/* UID sets: walk the ranges rather than every message when sets are small */
	for (size_t i = 0; i < v->n; i++)
		if (seqset_has(set, v->m[i].uid, star))
			(*idx)[n++] = i;
	qsort(*idx, n, sizeof **idx, cmp_size);
	return n;
}

void report_vanished(struct session *s, uint32_t *uids, size_t n, bool earlier)
{
	if (!n)
		return;
	qsort(uids, n, sizeof *uids, cmp_u32);
	struct evbuffer *b = s_buf(s);
	evbuffer_add_printf(b, "* VANISHED %s", earlier ? "(EARLIER) " : "");
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && uids[j + 1] <= uids[j] + 1)
			j++;
		evbuffer_add_printf(b, "%s%u", i ? "," : "", uids[i]);
		if (uids[j] != uids[i])
			evbuffer_add_printf(b, ":%u", uids[j]);
		i = j + 1;
	}
	evbuffer_add(b, "\r\n", 2);
}

/* Report and drop the messages marked gone (descending, so sequence numbers
 * stay right; one VANISHED under QRESYNC). */
static void sweep_gone(struct session *s, struct view *v)
{
	uint32_t *vanished = NULL;
	size_t nvan = 0;
	for (size_t i = v->n; i-- > 0;) {
		if (!v->m[i].gone)
			continue;
		if (s->qresync) {
			vanished = xrealloc(vanished, (nvan + 1) * sizeof *vanished);
			vanished[nvan++] = v->m[i].uid;
		} else {
			s_out(s, "* %zu EXPUNGE", i + 1);
		}
		free(v->m[i].kw);
		memmove(&v->m[i], &v->m[i + 1], (v->n - i - 1) * sizeof *v->m);
		v->n--;
	}
	report_vanished(s, vanished, nvan, false);
	free(vanished);
}

/* Messages no longer in recs are gone: reported now when EXPUNGE responses
 * are allowed, else only marked. */
static void reconcile_gone(struct session *s, struct view *v, const struct mi_rec *recs, size_t nr,
			   bool allow_expunge)
{
	size_t j = nr;
	for (size_t i = v->n; i-- > 0;) {
		while (j > 0 && recs[j - 1].uid > v->m[i].uid)
			j--;
		if (!(j > 0 && recs[j - 1].uid == v->m[i].uid))
			v->m[i].gone = true;
	}
	if (allow_expunge)
		sweep_gone(s, v);
}

/* Message i as the index has it now: FETCH FLAGS when that changed. */
static void update_flags(struct session *s, struct view *v, size_t i, const struct mi_rec *r)
{
	struct vmsg *m = &v->m[i];
	bool same = m->flags == r->flags && !strcmp(m->kw, r->keywords);
	m->modseq = r->modseq;
	if (same)
		return;
	m->flags = r->flags;
	free(m->kw);
	m->kw = xstrdup(r->keywords);
	struct evbuffer *b = s_buf(s);
	evbuffer_add_printf(b, "* %zu FETCH (FLAGS ", i + 1);
	s_flags(b, m->flags, m->kw, m->recent);
	evbuffer_add_printf(b, " UID %u", m->uid);
	s_modseq(s, b, m->modseq);
	evbuffer_add(b, ")\r\n", 3);
}

static void reconcile_flags(struct session *s, struct view *v, const struct mi_rec *recs, size_t nr)
{
	size_t j = 0;
	for (size_t i = 0; i < v->n; i++) {
		while (j < nr && recs[j].uid < v->m[i].uid)
			j++;
		if (j < nr && recs[j].uid == v->m[i].uid)
			update_flags(s, v, i, &recs[j]);
	}
}

/* From the index's change log (records changed since v->modseq, in UID
 * order, and the expunges since): cost O(changes), not O(folder). */
static void changed_only(struct session *s, struct view *v, struct mi *mi, const struct mi_rec *recs,
			 size_t nr, bool allow_expunge)
{
	uint32_t *gone;
	size_t ng = mi_expunged_since(mi, v->modseq, &gone);
	for (size_t k = 0; k < ng; k++) {
		uint32_t q = view_seq(v, gone[k]);
		if (q)
			v->m[q - 1].gone = true;
	}
	free(gone);
	if (allow_expunge)
		sweep_gone(s, v);
	uint32_t last = v->n ? v->m[v->n - 1].uid : 0;
	for (size_t j = 0; j < nr && recs[j].uid <= last; j++) {
		uint32_t q = view_seq(v, recs[j].uid);
		if (q && !v->m[q - 1].gone)
			update_flags(s, v, q - 1, &recs[j]);
	}
}

/* New messages after the last one we know; returns how many. */
static size_t reconcile_new(struct view *v, const struct mi_rec *recs, size_t nr,
			    const uint32_t *fresh, size_t nfresh)
{
	uint32_t last = v->n ? v->m[v->n - 1].uid : 0;
	size_t added = 0;
	for (size_t j = 0; j < nr; j++) {
		if (recs[j].uid <= last)
			continue;
		view_append(v, &recs[j], in_list(fresh, nfresh, recs[j].uid));
		added++;
	}
	return added;
}

static size_t count_recent(const struct view *v)
{
	size_t n = 0;
	for (size_t i = 0; i < v->n; i++)
		n += v->m[i].recent;
	return n;
}

static void view_update(struct session *s, struct mi *mi, const uint32_t *fresh, size_t nfresh,
			bool allow_expunge)
{
	struct view *v = s->sel;
	const struct mi_header *h = mi_header(mi);
	bool pending_gone = false;
	for (size_t i = 0; i < v->n && !pending_gone; i++)
		pending_gone = v->m[i].gone;
	if (h->uidvalidity != v->uidvalidity) {
		/* the index was rebuilt under us: the client must resynchronise */
		s_out(s, "* BYE [UNAVAILABLE] Mailbox index was rebuilt; please reconnect");
		s->closing = true;
		return;
	}
	if (h->modseq == v->modseq && h->uidnext == v->uidnext && !nfresh &&
	    !(pending_gone && allow_expunge))
		return;
	struct mi_rec *recs;
	size_t nr;
	if (mi_changed_since(mi, v->modseq, &recs, &nr) == 0) {
		/* only what changed since the MODSEQ this view knows */
		changed_only(s, v, mi, recs, nr, allow_expunge);
	} else {
		mi_load(mi, &recs, &nr);
		reconcile_gone(s, v, recs, nr, allow_expunge);
		reconcile_flags(s, v, recs, nr);
	}
	/* IMAP4rev2 has no \Recent: nothing is fresh and RECENT is never sent */
	if (reconcile_new(v, recs, nr, s->rev2 ? NULL : fresh, s->rev2 ? 0 : nfresh)) {
		s_out(s, "* %zu EXISTS", v->n);
		if (!s->rev2)
			s_out(s, "* %zu RECENT", count_recent(v));
	}
	mi_recs_free(recs, nr);
	v->modseq = h->modseq;
	v->uidnext = h->uidnext;
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
	if (s->sel->nfresh) {
		/* moved from new/ by another open of this folder in this session */
		fresh = xrealloc(fresh, (nfresh + s->sel->nfresh) * sizeof *fresh);
		memcpy(fresh + nfresh, s->sel->fresh, s->sel->nfresh * sizeof *fresh);
		nfresh += s->sel->nfresh;
		free(s->sel->fresh);
		s->sel->fresh = NULL;
		s->sel->nfresh = 0;
	}
	sort_fresh(fresh, nfresh);
	view_update(s, mi, fresh, nfresh, allow_expunge);
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
	if (nfresh) {
		struct view *v = s->sel;
		v->fresh = xrealloc(v->fresh, (v->nfresh + nfresh) * sizeof *v->fresh);
		memcpy(v->fresh + v->nfresh, fresh, nfresh * sizeof *fresh);
		v->nfresh += nfresh;
	}
	free(fresh);
	return mi;
}

struct mi *view_sync_reuse(struct session *s, struct mi *mi)
{
	view_update(s, mi, NULL, 0, !s->in_fetch_like);
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
	sort_fresh(fresh, nfresh);
	struct view *v = xcalloc(1, sizeof *v);
	v->name = xstrdup(name);
	v->dir = dir;
	v->readonly = readonly;
	const struct mi_header *h = mi_header(mi);
	v->uidvalidity = h->uidvalidity;
	v->uidnext = h->uidnext;
	v->modseq = h->modseq;
	struct mi_rec *recs;
	size_t nr;
	mi_load(mi, &recs, &nr);
	for (size_t i = 0; i < nr; i++)
		view_append(v, &recs[i], !s->rev2 && in_list(fresh, nfresh, recs[i].uid));
	mi_recs_free(recs, nr);
	free(fresh);
	mi_close(mi);
	view_free(s->sel);
	s->sel = v;
	return 0;
}

void expunge_indexes(struct session *s, struct mi *mi, size_t *idx, size_t n, bool quiet)
{
	struct view *v = s->sel;
	uint32_t *vanished = xcalloc(n + 1, sizeof *vanished);
	size_t nvan = 0;
	for (size_t k = n; k-- > 0;) {
		size_t i = idx[k];
		if (mi_expunge(mi, v->m[i].uid) < 0 && !v->m[i].gone)
			log_warn("user=%s: cannot expunge uid %u in %s", s->user, v->m[i].uid, v->name);
		if (!quiet && s->qresync)
			vanished[nvan++] = v->m[i].uid;
		else if (!quiet)
			s_out(s, "* %zu EXPUNGE", i + 1);
		free(v->m[i].kw);
		memmove(&v->m[i], &v->m[i + 1], (v->n - i - 1) * sizeof *v->m);
		v->n--;
	}
	report_vanished(s, vanished, nvan, false);
	free(vanished);
	const struct mi_header *h = mi_header(mi);
	v->modseq = h->modseq;
}
