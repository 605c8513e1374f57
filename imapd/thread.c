/* thread.c — THREAD=REFERENCES (RFC 5256 3). Containers live in one array
 * indexed by int; a message-id hash table finds them. Bounded: at most
 * THREAD_MAX_REFS references per message are used, and printing stops
 * nesting at THREAD_MAX_DEPTH (deeper replies are printed flat). */
#include "imapd/thread.h"
#include "common/util.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#define THREAD_MAX_REFS 100
#define THREAD_MAX_DEPTH 256

struct ct {
	char *id;		/* message id (malloc'd) or NULL for a synthetic dummy */
	int msg;		/* index into msgs, -1 for a dummy */
	int parent, child, next;
	int64_t date;		/* for sorting: the message's, or its first child's */
};

struct tctx {
	struct ct *c;
	size_t n, cap;
	int *hash;		/* open addressing over c indexes, -1 empty */
	size_t hcap;
	const struct thread_msg *m;
};

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int new_ct(struct tctx *t, const char *id)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->c = xrealloc(t->c, t->cap * sizeof *t->c);
	}
	t->c[t->n] = (struct ct){ id ? xstrdup(id) : NULL, -1, -1, -1, -1, 0 };
	return (int)t->n++;
}

static void hash_insert(int *hash, size_t cap, const char *id, int k)
{
	size_t h = fnv(id) & (cap - 1);
	while (hash[h] >= 0)
		h = (h + 1) & (cap - 1);
	hash[h] = k;
}

/* Keep the table at most half full. */
static void hash_grow(struct tctx *t)
{
	size_t cap = t->hcap * 2;
	int *nh = xcalloc(cap, sizeof *nh);
	memset(nh, 0xff, cap * sizeof *nh);
	for (size_t k = 0; k < t->n; k++)
		if (t->c[k].id)
			hash_insert(nh, cap, t->c[k].id, (int)k);
	free(t->hash);
	t->hash = nh;
	t->hcap = cap;
}

/* The container of id, created when missing. */
static int lookup(struct tctx *t, const char *id)
{
	if (t->n * 2 >= t->hcap)
		hash_grow(t);
	size_t h = fnv(id) & (t->hcap - 1);
	while (t->hash[h] >= 0) {
		if (!strcmp(t->c[t->hash[h]].id, id))
			return t->hash[h];
		h = (h + 1) & (t->hcap - 1);
	}
	int k = new_ct(t, id);
	t->hash[h] = k;
	return k;
}

static bool is_ancestor(struct tctx *t, int a, int of)
{
	for (int p = of, guard = 0; p >= 0 && guard < 100000; p = t->c[p].parent, guard++)
		if (p == a)
			return true;
	return false;
}

static void unlink_ct(struct tctx *t, int k)
{
	int p = t->c[k].parent;
	if (p < 0)
		return;
	int *pp = &t->c[p].child;
	while (*pp >= 0 && *pp != k)
		pp = &t->c[*pp].next;
	if (*pp == k)
		*pp = t->c[k].next;
	t->c[k].parent = -1;
	t->c[k].next = -1;
}

static void link_ct(struct tctx *t, int parent, int k)
{
	unlink_ct(t, k);
	t->c[k].parent = parent;
	t->c[k].next = -1;
	int *pp = &t->c[parent].child;
	while (*pp >= 0)
		pp = &t->c[*pp].next;
	*pp = k;
}

/* Message ids "<...>" in a header value, in order (at most max). */
static size_t ids(const char *v, char **out, size_t max)
{
	size_t n = 0;
	for (const char *p = v; p && n < max && (p = strchr(p, '<'));) {
		const char *e = strchr(p, '>');
		if (!e)
			break;
		out[n++] = xstrndup(p, (size_t)(e - p + 1));
		p = e + 1;
	}
	return n;
}

static void build(struct tctx *t, size_t nmsgs)
{
	for (size_t i = 0; i < nmsgs; i++) {
		const struct thread_msg *m = &t->m[i];
		char *own[1];
		int k;
		if (ids(m->msgid, own, 1) == 1) {
			k = lookup(t, own[0]);
			free(own[0]);
			if (t->c[k].msg >= 0)
				k = new_ct(t, NULL);	/* duplicate Message-ID: a unique one */
		} else {
			k = new_ct(t, NULL);
		}
		t->c[k].msg = (int)i;
		char *refs[THREAD_MAX_REFS];
		size_t nr = ids(m->refs, refs, THREAD_MAX_REFS);
		int prev = -1;
		for (size_t r = 0; r < nr; r++) {
			int rk = lookup(t, refs[r]);
			if (prev >= 0 && t->c[rk].parent < 0 && rk != prev && !is_ancestor(t, rk, prev))
				link_ct(t, prev, rk);
			prev = rk;
			free(refs[r]);
		}
		/* the message's parent is its last reference (replacing an old guess) */
		if (prev >= 0 && prev != k && !is_ancestor(t, k, prev))
			link_ct(t, prev, k);
		else if (prev < 0)
			unlink_ct(t, k);
	}
}

/* Dates for sorting: a dummy takes its earliest child's. */
static int64_t fix_dates(struct tctx *t, int k, int depth)
{
	struct ct *c = &t->c[k];
	if (c->msg >= 0)
		c->date = t->m[c->msg].date;
	int64_t first = INT64_MAX;
	for (int ch = c->child; ch >= 0 && depth < THREAD_MAX_DEPTH * 4; ch = t->c[ch].next) {
		int64_t d = fix_dates(t, ch, depth + 1);
		if (d < first)
			first = d;
	}
	if (c->msg < 0)
		c->date = first == INT64_MAX ? 0 : first;
	return c->date;
}

/* Drop dummies without children; promote the children of dummies that are
 * not roots, or roots with one child (RFC 5256 3 step 4). */
static void prune(struct tctx *t, int k)
{
	for (int ch = t->c[k].child, next; ch >= 0; ch = next) {
		next = t->c[ch].next;
		prune(t, ch);
	}
	struct ct *c = &t->c[k];
	if (c->msg >= 0)
		return;
	if (c->child < 0) {
		unlink_ct(t, k);
		return;
	}
	bool root = c->parent < 0;
	if (!root || t->c[c->child].next < 0) {
		int parent = c->parent;
		for (int ch = c->child, next; ch >= 0; ch = next) {
			next = t->c[ch].next;
			if (parent >= 0)
				link_ct(t, parent, ch);
			else
				unlink_ct(t, ch);
		}
		unlink_ct(t, k);
	}
}

static const struct tctx *g_t;

static int cmp_date(const void *a, const void *b)
{
	const struct ct *x = &g_t->c[*(const int *)a], *y = &g_t->c[*(const int *)b];
	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	int mx = x->msg >= 0 ? x->msg : 0, my = y->msg >= 0 ? y->msg : 0;
	return (mx > my) - (mx < my);
}

static void sort_children(struct tctx *t, int k, int depth)
{
	size_t n = 0;
	for (int ch = t->c[k].child; ch >= 0; ch = t->c[ch].next)
		n++;
	if (!n)
		return;
	int *v = xcalloc(n, sizeof *v);
	n = 0;
	for (int ch = t->c[k].child; ch >= 0; ch = t->c[ch].next)
		v[n++] = ch;
	g_t = t;
	qsort(v, n, sizeof *v, cmp_date);
	t->c[k].child = v[0];
	for (size_t i = 0; i < n; i++) {
		t->c[v[i]].next = i + 1 < n ? v[i + 1] : -1;
		if (depth < THREAD_MAX_DEPTH * 4)
			sort_children(t, v[i], depth + 1);
	}
	free(v);
}

static const char *subject_of(struct tctx *t, int k)
{
	struct ct *c = &t->c[k];
	if (c->msg < 0)
		c = &t->c[c->child];
	return c->msg >= 0 ? t->m[c->msg].subject : "";
}

/* Merge roots that share a base subject (RFC 5256 3 step 5); a hash of
 * subject -> position in roots keeps it linear. */
static void merge_subjects(struct tctx *t, int *roots, size_t *nroots)
{
	size_t out = 0, cap = 64;
	while (cap < *nroots * 2 + 64)
		cap *= 2;
	int *pos = xcalloc(cap, sizeof *pos);
	memset(pos, 0xff, cap * sizeof *pos);
	for (size_t i = 0; i < *nroots; i++) {
		int k = roots[i];
		const char *subj = subject_of(t, k);
		int into = -1;
		size_t h = fnv(subj) & (cap - 1);
		for (; *subj && pos[h] >= 0; h = (h + 1) & (cap - 1)) {
			if (!strcmp(subject_of(t, roots[pos[h]]), subj)) {
				into = pos[h];
				break;
			}
		}
		if (into < 0) {
			if (*subj)
				pos[h] = (int)out;
			roots[out++] = k;
			continue;
		}
		int o = roots[into];
		struct ct *oc = &t->c[o], *kc = &t->c[k];
		bool k_reply = kc->msg >= 0 && t->m[kc->msg].reply;
		bool o_reply = oc->msg >= 0 && t->m[oc->msg].reply;
		if (oc->msg < 0 && kc->msg < 0) {
			for (int ch = kc->child, next; ch >= 0; ch = next) {
				next = t->c[ch].next;
				link_ct(t, o, ch);
			}
		} else if (oc->msg < 0) {
			link_ct(t, o, k);
		} else if (kc->msg < 0) {
			link_ct(t, k, o);
			roots[into] = k;
		} else if (k_reply && !o_reply) {
			link_ct(t, o, k);
		} else if (o_reply && !k_reply) {
			link_ct(t, k, o);
			roots[into] = k;
		} else {
			int d = new_ct(t, NULL);
			link_ct(t, d, o);
			link_ct(t, d, k);
			roots[into] = d;
		}
	}
	*nroots = out;
	free(pos);
}

static void print(struct tctx *t, struct evbuffer *b, int k, int depth)
{
	struct ct *c = &t->c[k];
	bool dummy = c->msg < 0;
	if (!dummy)
		evbuffer_add_printf(b, "%u", t->m[c->msg].number);
	int nch = 0;
	for (int ch = c->child; ch >= 0; ch = t->c[ch].next)
		nch++;
	if (!nch)
		return;
	if (nch == 1 && !dummy && depth < THREAD_MAX_DEPTH) {
		evbuffer_add(b, " ", 1);
		print(t, b, c->child, depth + 1);
		return;
	}
	if (!dummy)
		evbuffer_add(b, " ", 1);
	for (int ch = c->child; ch >= 0; ch = t->c[ch].next) {
		evbuffer_add(b, "(", 1);
		print(t, b, ch, depth + 1);
		evbuffer_add(b, ")", 1);
	}
}

void thread_references(struct evbuffer *out, const struct thread_msg *msgs, size_t n)
{
	struct tctx t = { .m = msgs };
	t.hcap = 64;
	while (t.hcap < n * 4 * 2 + 64)
		t.hcap *= 2;
	t.hash = xcalloc(t.hcap, sizeof *t.hash);
	memset(t.hash, 0xff, t.hcap * sizeof *t.hash);
	build(&t, n);
	size_t nroots = 0;
	int *roots = xcalloc(t.n + 1, sizeof *roots);
	for (size_t k = 0; k < t.n; k++)
		if (t.c[k].parent < 0)
			roots[nroots++] = (int)k;
	for (size_t i = 0; i < nroots; i++)
		prune(&t, roots[i]);
	/* after pruning: every container without a parent that still holds a
	 * message or children starts a thread (promoted children included) */
	size_t live = 0;
	for (size_t k = 0; k < t.n; k++)
		if (t.c[k].parent < 0 && (t.c[k].msg >= 0 || t.c[k].child >= 0))
			roots[live++] = (int)k;
	for (size_t i = 0; i < live; i++)
		fix_dates(&t, roots[i], 0);
	g_t = &t;
	qsort(roots, live, sizeof *roots, cmp_date);
	merge_subjects(&t, roots, &live);
	evbuffer_add(out, "* THREAD ", 9);
	for (size_t i = 0; i < live; i++) {
		fix_dates(&t, roots[i], 0);
		sort_children(&t, roots[i], 0);
		evbuffer_add(out, "(", 1);
		print(&t, out, roots[i], 0);
		evbuffer_add(out, ")", 1);
	}
	evbuffer_add(out, "\r\n", 2);
	for (size_t k = 0; k < t.n; k++)
		free(t.c[k].id);
	free(t.c);
	free(t.hash);
	free(roots);
}
