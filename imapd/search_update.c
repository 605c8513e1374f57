/* search_update.c — updating SEARCH and SORT contexts (search_update.h).
 *
 * A context keeps its result as UIDs in the requested order (mailbox order
 * for SEARCH, sort order with each message's keys for SORT) and subscribes
 * to the selected view. Before a change set's standard responses it takes
 * the expunged messages out (REMOVEFROM naming them by the numbers they had
 * before the EXPUNGEs, RFC 5267 4.3.4); after them it runs its program over
 * the messages whose flags changed or that arrived, and reports those that
 * left (REMOVEFROM) and joined (ADDTO). SEARCH contexts use context position
 * 0 (the client keeps mailbox order, 4.3.3); SORT contexts give each
 * message's position, one pair per message, so applying the pairs in order
 * keeps the client's list in sort order. */
#include "imapd/search_update.h"
#include "common/log.h"
#include "common/mime.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

struct sctx {
	char *tag;
	bool uid;		/* the client wants UIDs, else message numbers */
	bool sorted;
	struct skey *prog;	/* frozen: search_freeze */
	struct sort_program sp;
	uint32_t *res;		/* the result, in the requested order */
	struct sortrec *keys;	/* SORT: the keys of res[i] */
	size_t n, cap;
};

/* One ESEARCH response being built: REMOVEFROM and ADDTO data. */
struct upd {
	struct evbuffer *rm, *add;
	uint32_t *rmids, *addids;	/* SEARCH: the numbers, written as sets */
	size_t nrm, nadd;
};

static void ctx_drop(void *arg)
{
	struct sctx *x = arg;
	for (size_t i = 0; x->keys && i < x->n; i++)
		sortrec_clear(&x->keys[i]);
	free(x->keys);
	free(x->res);
	skey_free(x->prog);
	free(x->tag);
	free(x);
}

/* Position of uid in the result, or -1. */
static long ctx_find(const struct sctx *x, uint32_t uid)
{
	if (x->sorted) {
		for (size_t i = 0; i < x->n; i++)
			if (x->res[i] == uid)
				return (long)i;
		return -1;
	}
	size_t lo = 0, hi = x->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (x->res[mid] == uid)
			return (long)mid;
		if (x->res[mid] < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static void ctx_remove(struct sctx *x, size_t pos)
{
	if (x->keys) {
		sortrec_clear(&x->keys[pos]);
		memmove(&x->keys[pos], &x->keys[pos + 1], (x->n - pos - 1) * sizeof *x->keys);
	}
	memmove(&x->res[pos], &x->res[pos + 1], (x->n - pos - 1) * sizeof *x->res);
	x->n--;
}

static void ctx_insert(struct sctx *x, size_t pos, uint32_t uid, const struct sortrec *rec)
{
	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 16;
		x->res = xrealloc(x->res, x->cap * sizeof *x->res);
		if (x->sorted)
			x->keys = xrealloc(x->keys, x->cap * sizeof *x->keys);
	}
	memmove(&x->res[pos + 1], &x->res[pos], (x->n - pos) * sizeof *x->res);
	x->res[pos] = uid;
	if (x->sorted) {
		memmove(&x->keys[pos + 1], &x->keys[pos], (x->n - pos) * sizeof *x->keys);
		x->keys[pos] = *rec;
	}
	x->n++;
}

/* Where rec goes in a SORT context's result. */
static size_t sorted_pos(const struct sctx *x, const struct sortrec *rec)
{
	size_t lo = 0, hi = x->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (sortrec_cmp(&x->sp, &x->keys[mid], rec) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* ---- responses ---- */

static void upd_init(struct upd *u)
{
	*u = (struct upd){ evbuffer_new(), evbuffer_new(), NULL, NULL, 0, 0 };
}

/* A message left (rm) or joined the result at 0-based position pos. */
static void upd_note(struct upd *u, const struct sctx *x, bool rm, size_t pos, uint32_t id)
{
	if (x->sorted) {
		struct evbuffer *b = rm ? u->rm : u->add;
		evbuffer_add_printf(b, "%s%zu %u", evbuffer_get_length(b) ? " " : "", pos + 1, id);
		return;
	}
	uint32_t **v = rm ? &u->rmids : &u->addids;
	size_t *n = rm ? &u->nrm : &u->nadd;
	*v = xrealloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = id;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* SEARCH: "0 set" (position 0: mailbox order), the set ascending. */
static void write_zero_set(struct evbuffer *b, uint32_t *ids, size_t n)
{
	qsort(ids, n, sizeof *ids, cmp_u32);
	evbuffer_add(b, "0 ", 2);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && ids[j + 1] == ids[j] + 1)
			j++;
		evbuffer_add_printf(b, "%s%u", i ? "," : "", ids[i]);
		if (j > i)
			evbuffer_add_printf(b, ":%u", ids[j]);
		i = j + 1;
	}
}

static void upd_send(struct session *s, const struct sctx *x, struct upd *u)
{
	if (!x->sorted) {
		if (u->nrm)
			write_zero_set(u->rm, u->rmids, u->nrm);
		if (u->nadd)
			write_zero_set(u->add, u->addids, u->nadd);
	}
	if (evbuffer_get_length(u->rm) || evbuffer_get_length(u->add)) {
		struct evbuffer *b = evbuffer_new();
		evbuffer_add(b, "* ESEARCH (TAG ", 15);
		imap_quote(b, x->tag, strlen(x->tag));
		evbuffer_add_printf(b, ")%s", x->uid ? " UID" : "");
		if (evbuffer_get_length(u->rm)) {
			evbuffer_add(b, " REMOVEFROM (", 13);
			evbuffer_add_buffer(b, u->rm);
			evbuffer_add(b, ")", 1);
		}
		if (evbuffer_get_length(u->add)) {
			evbuffer_add(b, " ADDTO (", 8);
			evbuffer_add_buffer(b, u->add);
			evbuffer_add(b, ")", 1);
		}
		evbuffer_add(b, "\r\n", 2);
		evbuffer_add_buffer(s_buf(s), b);
		evbuffer_free(b);
	}
	evbuffer_free(u->rm);
	evbuffer_free(u->add);
	free(u->rmids);
	free(u->addids);
}

/* ---- the view's changes ---- */

/* The number uid had before this change set's expunges (the view lacks
 * them already; exp holds their UIDs, ascending). */
static uint32_t seq_before(const struct view *v, const uint32_t *exp, size_t nexp, uint32_t uid)
{
	size_t lo = 0, hi = v->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v->m[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t before = lo;
	for (size_t k = 0; k < nexp && exp[k] < uid; k++)
		before++;
	return (uint32_t)before + 1;
}

/* Early: expunged messages leave the result while their numbers still hold. */
static void ctx_expunged(struct session *s, const struct view_changes *c, void *arg)
{
	struct sctx *x = arg;
	if (!c->nexpunged || !x->n)
		return;
	uint32_t *exp = xcalloc(c->nexpunged, sizeof *exp);
	for (size_t k = 0; k < c->nexpunged; k++)
		exp[k] = c->expunged[k].uid;
	qsort(exp, c->nexpunged, sizeof *exp, cmp_u32);
	struct upd u;
	upd_init(&u);
	for (size_t k = 0; k < c->nexpunged; k++) {
		long pos = ctx_find(x, exp[k]);
		if (pos < 0)
			continue;
		uint32_t id = x->uid ? exp[k] : seq_before(s->sel, exp, c->nexpunged, exp[k]);
		upd_note(&u, x, true, (size_t)pos, id);
		ctx_remove(x, (size_t)pos);
	}
	free(exp);
	upd_send(s, x, &u);
}

static int cmp_size(const void *a, const void *b)
{
	size_t p = *(const size_t *)a, q = *(const size_t *)b;
	return p < q ? -1 : p > q;
}

/* View indexes of the messages whose flags changed or that arrived,
 * ascending, each once. */
static size_t candidates(const struct view *v, const struct view_changes *c, size_t **out)
{
	size_t n = 0, cap = c->nchanged + c->nquiet + c->nadded + 1;
	size_t *idx = xcalloc(cap, sizeof *idx);
	const uint32_t *lists[] = { c->changed, c->quiet, c->added };
	size_t lens[] = { c->nchanged, c->nquiet, c->nadded };
	for (size_t l = 0; l < 3; l++)
		for (size_t k = 0; k < lens[l]; k++) {
			uint32_t q = view_seq(v, lists[l][k]);
			if (q)
				idx[n++] = q - 1;
		}
	qsort(idx, n, sizeof *idx, cmp_size);
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (!m || idx[m - 1] != idx[i])
			idx[m++] = idx[i];
	*out = idx;
	return m;
}

/* A message that joins the result: where, and with which keys. */
static void ctx_add(struct session *s, struct sctx *x, struct mi *mi, size_t i, struct upd *u)
{
	uint32_t uid = s->sel->m[i].uid;
	struct sortrec rec = { 0 };
	size_t pos = 0;
	if (x->sorted) {
		sortrec_fill(&rec, s, mi, i);
		pos = sorted_pos(x, &rec);
	} else {
		while (pos < x->n && x->res[pos] < uid)
			pos++;
	}
	ctx_insert(x, pos, uid, &rec);
	upd_note(u, x, false, pos, x->uid ? uid : (uint32_t)i + 1);
}

/* After: the changed and new messages, run through the program. */
static void ctx_changed(struct session *s, const struct view_changes *c, void *arg)
{
	struct sctx *x = arg;
	size_t *idx, n = candidates(s->sel, c, &idx);
	if (!n || !c->mi) {
		if (n)
			log_warn("user=%s: search context %s not updated: no index", s->user, x->tag);
		free(idx);
		return;
	}
	bool *match = xcalloc(n, sizeof *match);
	search_match(s, c->mi, x->prog, idx, n, match);
	struct upd u;
	upd_init(&u);
	for (size_t k = 0; k < n; k++) {
		uint32_t uid = s->sel->m[idx[k]].uid;
		long pos = ctx_find(x, uid);
		if (pos >= 0 && !match[k]) {
			upd_note(&u, x, true, (size_t)pos, x->uid ? uid : (uint32_t)idx[k] + 1);
			ctx_remove(x, (size_t)pos);
		}
	}
	for (size_t k = 0; k < n; k++)
		if (match[k] && ctx_find(x, s->sel->m[idx[k]].uid) < 0)
			ctx_add(s, x, c->mi, idx[k], &u);
	free(match);
	free(idx);
	upd_send(s, x, &u);
}

/* ---- contexts ---- */

static struct sctx *ctx_of(const struct view *v, const char *tag, size_t *count)
{
	struct sctx *found = NULL;
	size_t n = 0;
	for (size_t i = 0; v && i < v->nhooks; i++) {
		if (v->hooks[i].fn != ctx_changed)
			continue;
		n++;
		struct sctx *x = v->hooks[i].arg;
		if (tag && !strcmp(x->tag, tag))
			found = x;
	}
	if (count)
		*count = n;
	return found;
}

bool search_update_tag_free(struct session *s, const char *tag)
{
	return ctx_of(s->sel, tag, NULL) == NULL;
}

/* A new context for the current command, or NULL (refused: NOUPDATE). */
static struct sctx *ctx_new(struct session *s, struct skey *prog, bool uid)
{
	size_t count;
	ctx_of(s->sel, NULL, &count);
	if (count >= SEARCH_MAX_UPDATES) {
		struct evbuffer *b = evbuffer_new();
		evbuffer_add(b, "* NO [NOUPDATE ", 15);
		imap_quote(b, s->tag, strlen(s->tag));
		evbuffer_add_printf(b, "] At most %d updating searches at a time\r\n", SEARCH_MAX_UPDATES);
		evbuffer_add_buffer(s_buf(s), b);
		evbuffer_free(b);
		skey_free(prog);
		return NULL;
	}
	struct sctx *x = xcalloc(1, sizeof *x);
	x->tag = xstrdup(s->tag);
	x->uid = uid;
	x->prog = prog;
	search_freeze(prog, s->sel);
	return x;
}

static void ctx_subscribe(struct session *s, struct sctx *x)
{
	view_subscribe_hook(s->sel, &(struct view_hook){ .fn = ctx_changed, .arg = x,
							  .early = ctx_expunged, .drop = ctx_drop });
}

void search_update_start(struct session *s, struct skey *prog, bool uid, const size_t *idx, size_t n)
{
	struct sctx *x = ctx_new(s, prog, uid);
	if (!x)
		return;
	x->cap = n + 1;
	x->res = xcalloc(x->cap, sizeof *x->res);
	for (size_t i = 0; i < n; i++)
		x->res[x->n++] = s->sel->m[idx[i]].uid;
	ctx_subscribe(s, x);
}

void search_update_sorted(struct session *s, struct skey *prog, bool uid, const struct sort_program *sp,
			  struct sortrec *recs, size_t n)
{
	struct sctx *x = ctx_new(s, prog, uid);
	if (!x) {
		for (size_t i = 0; i < n; i++)
			sortrec_clear(&recs[i]);
		free(recs);
		return;
	}
	x->sorted = true;
	x->sp = *sp;
	x->keys = recs;
	x->cap = n + 1;	/* recs has room for n + 1 */
	x->res = xcalloc(x->cap, sizeof *x->res);
	for (size_t i = 0; i < n; i++)
		x->res[x->n++] = recs[i].uid;
	ctx_subscribe(s, x);
}

/* CANCELUPDATE 1*(SP quoted) (RFC 5267 4.3.5): all named contexts end, or
 * none when one of the tags names none. */
void cmd_cancelupdate(struct session *s, struct ip *ip, bool uid)
{
	char *tags[CANCELUPDATE_MAX_TAGS];
	size_t n = cancelupdate_parse(ip, tags);
	if (!n) {
		s_bad(s, "Syntax: CANCELUPDATE \"tag\" ... (at most %d)", CANCELUPDATE_MAX_TAGS);
		return;
	}
	bool known = true;
	for (size_t i = 0; i < n; i++)
		known = known && ctx_of(s->sel, tags[i], NULL);
	for (size_t i = 0; i < n; i++) {
		struct sctx *x = known ? ctx_of(s->sel, tags[i], NULL) : NULL;
		if (x)	/* NULL for a tag named twice */
			view_unsubscribe(s->sel, ctx_changed, x);
		free(tags[i]);
	}
	if (known)
		s_ok(s, "Updates cancelled");
	else
		s_no(s, "No updating search has that tag");
}
