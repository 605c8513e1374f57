/* view.c — the selected folder as the client knows it, and what changed in
 * the index since (other sessions and deliverd change it concurrently), as
 * data for the renderer (untagged.c). Nothing here writes output. */
#include "imapd/view.h"
#include "common/mailindex.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void view_free(struct view *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++)
		free(v->m[i].kw);
	free(v->m);
	free(v->saved);
	for (size_t i = 0; i < v->nhooks; i++)
		if (v->hooks[i].drop)
			v->hooks[i].drop(v->hooks[i].arg);
	free(v->hooks);
	for (size_t i = 0; i < v->nkws; i++)
		free(v->kws[i]);
	free(v->kws);
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
static void sort_uids(uint32_t *l, size_t n)
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
	sort_uids(v->saved, n);
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
	/* even "*" names no message in an empty folder */
	return seqset_within(set, (uint32_t)v->n) && (v->n || !set->n);
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


/* ---- keywords the client knows ---- */

static bool kws_has(const struct view *v, const char *k, size_t n)
{
	for (size_t i = 0; i < v->nkws; i++)
		if (strlen(v->kws[i]) == n && !strncasecmp(v->kws[i], k, n))
			return true;
	return false;
}

/* Add the keywords of list (space-separated) the view does not know yet;
 * true if there was one. */
static bool learn_keywords(struct view *v, const char *list)
{
	bool grew = false;
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, " ");
		if (n && !kws_has(v, p, n)) {
			v->kws = xrealloc(v->kws, (v->nkws + 1) * sizeof *v->kws);
			v->kws[v->nkws++] = xstrndup(p, n);
			grew = true;
		}
		p += n;
		p += *p == ' ';
	}
	return grew;
}

/* ---- change sets ---- */

static void push_u32(uint32_t **a, size_t *n, size_t *cap, uint32_t x)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*a = xrealloc(*a, *cap * sizeof **a);
	}
	(*a)[(*n)++] = x;
}

void view_changes_flag(struct view_changes *c, uint32_t uid)
{
	push_u32(&c->changed, &c->nchanged, &c->capchanged, uid);
}

void view_changes_quiet(struct view_changes *c, uint32_t uid)
{
	push_u32(&c->quiet, &c->nquiet, &c->capquiet, uid);
}

bool view_changes_empty(const struct view_changes *c)
{
	return !c->nexpunged && !c->nchanged && !c->nadded && !c->nquiet;
}

void view_changes_free(struct view_changes *c)
{
	free(c->expunged);
	free(c->changed);
	free(c->quiet);
	free(c->added);
	*c = (struct view_changes){ 0 };
}

void view_remove(struct view *v, size_t i, struct view_changes *c)
{
	if (c->nexpunged == c->capexpunged) {
		c->capexpunged = c->capexpunged ? c->capexpunged * 2 : 16;
		c->expunged = xrealloc(c->expunged, c->capexpunged * sizeof *c->expunged);
	}
	c->expunged[c->nexpunged++] = (struct vc_expunge){ (uint32_t)i + 1, v->m[i].uid };
	free(v->m[i].kw);
	memmove(&v->m[i], &v->m[i + 1], (v->n - i - 1) * sizeof *v->m);
	v->n--;
}

/* Drop the messages marked gone, last first, so each recorded sequence
 * number is right when the expunges are reported in order. */
static void sweep_gone(struct view *v, struct view_changes *c)
{
	for (size_t i = v->n; i-- > 0;)
		if (v->m[i].gone)
			view_remove(v, i, c);
}

/* Messages no longer in recs are gone: dropped now when EXPUNGE responses
 * are allowed, else only marked. */
static void reconcile_gone(struct view *v, const struct mi_rec *recs, size_t nr, bool allow_expunge,
			   struct view_changes *c)
{
	size_t j = nr;
	for (size_t i = v->n; i-- > 0;) {
		while (j > 0 && recs[j - 1].uid > v->m[i].uid)
			j--;
		if (!(j > 0 && recs[j - 1].uid == v->m[i].uid))
			v->m[i].gone = true;
	}
	if (allow_expunge)
		sweep_gone(v, c);
}

/* Message i as the index has it now: a change when its flags differ. */
static void update_flags(struct view *v, size_t i, const struct mi_rec *r, struct view_changes *c)
{
	struct vmsg *m = &v->m[i];
	bool same = m->flags == r->flags && !strcmp(m->kw, r->keywords);
	m->modseq = r->modseq;
	if (same)
		return;
	m->flags = r->flags;
	free(m->kw);
	m->kw = xstrdup(r->keywords);
	c->new_keywords |= learn_keywords(v, m->kw);
	view_changes_flag(c, m->uid);
}

void view_set_keywords(struct view *v, size_t i, const char *kw, struct view_changes *c)
{
	free(v->m[i].kw);
	v->m[i].kw = xstrdup(kw);
	c->new_keywords |= learn_keywords(v, kw);
}

static void reconcile_flags(struct view *v, const struct mi_rec *recs, size_t nr, struct view_changes *c)
{
	size_t j = 0;
	for (size_t i = 0; i < v->n; i++) {
		while (j < nr && recs[j].uid < v->m[i].uid)
			j++;
		if (j < nr && recs[j].uid == v->m[i].uid)
			update_flags(v, i, &recs[j], c);
	}
}

/* From the index's change log (records changed since v->modseq, in UID
 * order, and the expunges since): cost O(changes), not O(folder). */
static void changed_only(struct view *v, struct mi *mi, const struct mi_rec *recs, size_t nr,
			 bool allow_expunge, struct view_changes *c)
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
		sweep_gone(v, c);
	uint32_t last = v->n ? v->m[v->n - 1].uid : 0;
	for (size_t j = 0; j < nr && recs[j].uid <= last; j++) {
		uint32_t q = view_seq(v, recs[j].uid);
		if (q && !v->m[q - 1].gone)
			update_flags(v, q - 1, &recs[j], c);
	}
}

/* New messages after the last one we know. */
static void reconcile_new(struct view *v, const struct mi_rec *recs, size_t nr, uint32_t recent_from,
			  struct view_changes *c)
{
	uint32_t last = v->n ? v->m[v->n - 1].uid : 0;
	for (size_t j = 0; j < nr; j++) {
		if (recs[j].uid <= last)
			continue;
		view_append(v, &recs[j], recs[j].uid >= recent_from);
		c->new_keywords |= learn_keywords(v, recs[j].keywords);
		push_u32(&c->added, &c->nadded, &c->capadded, recs[j].uid);
	}
}

enum view_fate view_update(struct view *v, struct mi *mi, uint32_t recent_from, bool allow_expunge,
			   struct view_changes *c)
{
	const struct mi_header *h = mi_header(mi);
	if (h->uidvalidity != v->uidvalidity)
		return VIEW_REBUILT;
	bool pending_gone = false;
	for (size_t i = 0; i < v->n && !pending_gone; i++)
		pending_gone = v->m[i].gone;
	if (h->modseq == v->modseq && h->uidnext == v->uidnext && !(pending_gone && allow_expunge))
		return VIEW_SAME;
	struct mi_rec *recs;
	size_t nr;
	if (mi_changed_since(mi, v->modseq, &recs, &nr) == 0) {
		/* only what changed since the MODSEQ this view knows */
		changed_only(v, mi, recs, nr, allow_expunge, c);
	} else {
		mi_load(mi, &recs, &nr);
		reconcile_gone(v, recs, nr, allow_expunge, c);
		reconcile_flags(v, recs, nr, c);
	}
	reconcile_new(v, recs, nr, recent_from, c);
	mi_recs_free(recs, nr);
	v->modseq = h->modseq;
	v->uidnext = h->uidnext;
	c->modseq = v->modseq;
	return VIEW_CHANGED;
}

struct view *view_new(const char *name, const char *dir, bool readonly, struct mi *mi,
		      uint32_t recent_from)
{
	struct view *v = xcalloc(1, sizeof *v);
	v->name = xstrdup(name);
	v->dir = xstrdup(dir);
	v->readonly = readonly;
	const struct mi_header *h = mi_header(mi);
	v->uidvalidity = h->uidvalidity;
	v->uidnext = h->uidnext;
	v->modseq = h->modseq;
	struct mi_rec *recs;
	size_t nr;
	mi_load(mi, &recs, &nr);
	for (size_t i = 0; i < nr; i++) {
		view_append(v, &recs[i], recs[i].uid >= recent_from);
		learn_keywords(v, recs[i].keywords);
	}
	mi_recs_free(recs, nr);
	return v;
}

void view_forget_recent(struct view *v)
{
	for (size_t i = 0; i < v->n; i++)
		v->m[i].recent = false;
}

size_t view_recent(const struct view *v)
{
	size_t n = 0;
	for (size_t i = 0; i < v->n; i++)
		n += v->m[i].recent;
	return n;
}

void view_subscribe_hook(struct view *v, const struct view_hook *h)
{
	v->hooks = xrealloc(v->hooks, (v->nhooks + 1) * sizeof *v->hooks);
	v->hooks[v->nhooks++] = *h;
}

void view_subscribe(struct view *v, view_hook_fn fn, void *arg)
{
	view_subscribe_hook(v, &(struct view_hook){ .fn = fn, .arg = arg });
}

void view_unsubscribe(struct view *v, view_hook_fn fn, void *arg)
{
	for (size_t i = 0; i < v->nhooks; i++) {
		if (v->hooks[i].fn == fn && v->hooks[i].arg == arg) {
			if (v->hooks[i].drop)
				v->hooks[i].drop(arg);
			memmove(&v->hooks[i], &v->hooks[i + 1], (v->nhooks - i - 1) * sizeof *v->hooks);
			v->nhooks--;
			return;
		}
	}
}
