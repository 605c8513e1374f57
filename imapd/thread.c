/* thread.c — THREAD=REFERENCES (RFC 5256 3) and THREAD=REFS. Containers live in one array
 * indexed by int; a message-id hash table finds them. Every walk over the
 * trees is iterative (an explicit list or stack on the heap), so a chain of
 * replies as long as the mailbox costs memory, never C stack. Bounded: at
 * most THREAD_MAX_REFS references per message and THREAD_MAX_ID octets per
 * message-id are used. */
#include "imapd/thread.h"
#include "common/util.h"

#include <event2/buffer.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define THREAD_MAX_REFS 100
#define THREAD_MAX_ID 1000

struct ct {
	char *id;		/* message id (malloc'd) or NULL for a unique one */
	int msg;		/* index into msgs, -1 for a dummy */
	int parent, child, next;
	int64_t date;		/* for sorting: the message's, or its first child's */
	int order;		/* ties: the message's index, or its first child's */
	int64_t newest;		/* REFS: the latest date of the message and all under it */
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

/* ---- message ids (RFC 5322 3.6.4, read leniently as RFC 5256 asks) ---- */

/* Skip a comment starting at p ('('), nested and with quoted pairs. */
static const char *skip_comment(const char *p)
{
	int depth = 0;
	for (; *p; p++) {
		if (*p == '\\' && p[1])
			p++;
		else if (*p == '(')
			depth++;
		else if (*p == ')' && --depth == 0)
			return p + 1;
	}
	return p;
}

/* The inside of one "<...>" from p (just after '<') into out; returns
 * where reading stopped ('>' consumed) and sets *ok when it held an '@'. */
static const char *read_msgid(const char *p, char *out, size_t cap, bool *ok)
{
	size_t n = 0;
	bool at = false, quoted = false;
	while (*p && *p != '>' && (quoted || *p != '<')) {
		char c = *p;
		if (c == '"') {
			quoted = !quoted;
			p++;
			continue;
		}
		if (!quoted && c == '(') {
			p = skip_comment(p);
			continue;
		}
		if (c == '\\' && quoted && p[1])
			c = *++p;
		else if (!quoted && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
			p++;
			continue;
		}
		at |= c == '@' && !quoted;
		if (n + 1 < cap)
			out[n++] = c;
		p++;
	}
	out[n] = '\0';
	*ok = *p == '>' && at && n > 0 && out[0] != '@' && out[n - 1] != '@';
	return *p == '>' ? p + 1 : p;
}

bool thread_next_msgid(const char **pp, char *out, size_t cap)
{
	const char *p = *pp;
	while (p && *p) {
		if (*p == '(') {
			p = skip_comment(p);
			continue;
		}
		if (*p++ != '<')
			continue;
		bool ok;
		p = read_msgid(p, out, cap, &ok);
		if (ok) {
			*pp = p;
			return true;
		}
	}
	*pp = p;
	return false;
}

/* ---- containers ---- */

static int new_ct(struct tctx *t, const char *id)
{
	if (t->n == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->c = xrealloc(t->c, t->cap * sizeof *t->c);
	}
	t->c[t->n] = (struct ct){ id ? xstrdup(id) : NULL, -1, -1, -1, -1, 0, 0, 0 };
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

/* Is a the container of, or one of its ancestors? A chain of parents is
 * never longer than the number of containers. */
static bool is_ancestor(const struct tctx *t, int a, int of)
{
	size_t guard = 0;
	for (int p = of; p >= 0 && guard <= t->n; p = t->c[p].parent, guard++)
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

/* Make k the last child of parent. */
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

/* ---- step 1: link messages by their references ---- */

/* The containers m refers to, oldest first: References, or when it names
 * no valid id, the first valid id of In-Reply-To. */
static size_t ref_containers(struct tctx *t, const struct thread_msg *m, int *out)
{
	char id[THREAD_MAX_ID];
	size_t n = 0;
	for (const char *p = m->refs; n < THREAD_MAX_REFS && thread_next_msgid(&p, id, sizeof id);)
		out[n++] = lookup(t, id);
	const char *p = m->in_reply_to;
	if (!n && thread_next_msgid(&p, id, sizeof id))
		out[n++] = lookup(t, id);
	return n;
}

static int message_container(struct tctx *t, const struct thread_msg *m)
{
	char id[THREAD_MAX_ID];
	const char *p = m->msgid;
	if (!thread_next_msgid(&p, id, sizeof id))
		return new_ct(t, NULL);
	int k = lookup(t, id);
	/* a duplicate Message-ID: this one is treated as having a unique id */
	return t->c[k].msg >= 0 ? new_ct(t, NULL) : k;
}

static void build(struct tctx *t, size_t nmsgs)
{
	int *refs = xcalloc(THREAD_MAX_REFS, sizeof *refs);
	for (size_t i = 0; i < nmsgs; i++) {
		int k = message_container(t, &t->m[i]);
		t->c[k].msg = (int)i;
		size_t nr = ref_containers(t, &t->m[i], refs);
		/* 1A: each reference a child of the one before it, unless it
		 * already has a parent or the link would make a loop */
		for (size_t r = 1; r < nr; r++) {
			int rk = refs[r], prev = refs[r - 1];
			if (t->c[rk].parent < 0 && rk != prev && !is_ancestor(t, rk, prev))
				link_ct(t, prev, rk);
		}
		/* 1B: the message's own parent is its last reference; an old
		 * link (guessed from a truncated References) is broken first,
		 * and no link is made that would make a loop */
		unlink_ct(t, k);
		int parent = nr ? refs[nr - 1] : -1;
		if (parent >= 0 && !is_ancestor(t, k, parent))
			link_ct(t, parent, k);
	}
	free(refs);
}

/* ---- walks ---- */

/* Every container under the given roots, each before its children. */
static size_t top_down(const struct tctx *t, const int *roots, size_t nroots, int *out)
{
	size_t n = 0;
	for (size_t i = 0; i < nroots; i++)
		out[n++] = roots[i];
	for (size_t i = 0; i < n; i++)
		for (int ch = t->c[out[i]].child; ch >= 0; ch = t->c[ch].next)
			out[n++] = ch;
	return n;
}

/* Containers without a parent that hold a message or children. */
static size_t collect_roots(const struct tctx *t, int *roots)
{
	size_t n = 0;
	for (size_t k = 0; k < t->n; k++)
		if (t->c[k].parent < 0 && (t->c[k].msg >= 0 || t->c[k].child >= 0))
			roots[n++] = (int)k;
	return n;
}

/* ---- step 4: prune dummies ---- */

static void prune_one(struct tctx *t, int k)
{
	struct ct *c = &t->c[k];
	if (c->msg >= 0)
		return;
	if (c->child < 0) {
		unlink_ct(t, k);	/* 4A: a dummy without children goes */
		return;
	}
	/* 4B: its children take its place, but at the root level only a
	 * single child is promoted */
	int parent = c->parent;
	if (parent < 0 && t->c[c->child].next >= 0)
		return;
	while (t->c[k].child >= 0) {
		int ch = t->c[k].child;
		if (parent >= 0)
			link_ct(t, parent, ch);
		else
			unlink_ct(t, ch);
	}
	unlink_ct(t, k);
}

/* Bottom up, so a dummy sees its children already pruned. */
static void prune(struct tctx *t, int *order, int *roots)
{
	size_t nroots = 0;
	for (size_t k = 0; k < t->n; k++)
		if (t->c[k].parent < 0)
			roots[nroots++] = (int)k;
	size_t n = top_down(t, roots, nroots, order);
	while (n--)
		prune_one(t, order[n]);
}

/* ---- step 6: siblings by sent date, then by sequence ---- */

static const struct tctx *g_t;

static int cmp_date(const void *a, const void *b)
{
	const struct ct *x = &g_t->c[*(const int *)a], *y = &g_t->c[*(const int *)b];
	if (x->date != y->date)
		return x->date < y->date ? -1 : 1;
	return (x->order > y->order) - (x->order < y->order);
}

/* REFS: roots by their newest message, then as cmp_date. */
static int cmp_newest(const void *a, const void *b)
{
	const struct ct *x = &g_t->c[*(const int *)a], *y = &g_t->c[*(const int *)b];
	if (x->newest != y->newest)
		return x->newest < y->newest ? -1 : 1;
	return cmp_date(a, b);
}

static void sort_children(struct tctx *t, int k, int *tmp)
{
	size_t n = 0;
	for (int ch = t->c[k].child; ch >= 0; ch = t->c[ch].next)
		tmp[n++] = ch;
	if (n > 1) {
		g_t = t;
		qsort(tmp, n, sizeof *tmp, cmp_date);
		t->c[k].child = tmp[0];
		for (size_t i = 0; i < n; i++)
			t->c[tmp[i]].next = i + 1 < n ? tmp[i + 1] : -1;
	}
}

/* Sort every sibling list under roots (bottom up: a dummy is sorted by its
 * first child once that is known), then the roots themselves: by their own
 * date, or for REFS by the newest date in the thread. */
static void sort_tree(struct tctx *t, int *roots, size_t nroots, int *order, int *tmp, bool refs)
{
	size_t n = top_down(t, roots, nroots, order);
	while (n--) {
		int k = order[n];
		struct ct *c = &t->c[k];
		sort_children(t, k, tmp);
		if (c->msg >= 0) {
			c->date = t->m[c->msg].date;
			c->order = c->msg;
		} else if (c->child >= 0) {
			c->date = t->c[c->child].date;
			c->order = t->c[c->child].order;
		}
		c->newest = c->msg >= 0 ? c->date : INT64_MIN;
		for (int ch = c->child; ch >= 0; ch = t->c[ch].next)
			if (t->c[ch].newest > c->newest)
				c->newest = t->c[ch].newest;
	}
	g_t = t;
	qsort(roots, nroots, sizeof *roots, refs ? cmp_newest : cmp_date);
}

/* ---- step 5: roots with the same base subject ---- */

/* The message that speaks for container k: itself, or a dummy's first child. */
static const struct thread_msg *speaker(const struct tctx *t, int k)
{
	const struct ct *c = &t->c[k];
	if (c->msg < 0 && c->child >= 0)
		c = &t->c[c->child];
	return c->msg >= 0 ? &t->m[c->msg] : NULL;
}

/* 5B: does k deserve the subject table's entry more than e? */
static bool better_entry(const struct tctx *t, int k, int e)
{
	bool kd = t->c[k].msg < 0, ed = t->c[e].msg < 0;
	if (kd != ed)
		return kd;
	return speaker(t, e)->reply && !speaker(t, k)->reply;
}

/* 5C: join root k into e (the table's container for their subject);
 * returns the container that now stands for the subject. */
static int join(struct tctx *t, int e, int k)
{
	bool kd = t->c[k].msg < 0, ed = t->c[e].msg < 0;
	if (kd && ed) {
		while (t->c[k].child >= 0)
			link_ct(t, e, t->c[k].child);
		return e;
	}
	if (ed || kd) {
		int dummy = ed ? e : k;
		link_ct(t, dummy, ed ? k : e);
		return dummy;
	}
	if (speaker(t, k)->reply && !speaker(t, e)->reply) {
		link_ct(t, e, k);
		return e;
	}
	int d = new_ct(t, NULL);
	link_ct(t, d, e);
	link_ct(t, d, k);
	return d;
}

/* Slot of subj in an open-addressing table of container indexes. */
static size_t subject_slot(const struct tctx *t, const int *tab, size_t cap, const char *subj)
{
	size_t h = fnv(subj) & (cap - 1);
	while (tab[h] >= 0 && strcmp(speaker(t, tab[h])->subject, subj))
		h = (h + 1) & (cap - 1);
	return h;
}

static void merge_subjects(struct tctx *t, const int *roots, size_t nroots)
{
	size_t cap = 64;
	while (cap < nroots * 2 + 64)
		cap *= 2;
	int *tab = xcalloc(cap, sizeof *tab);
	memset(tab, 0xff, cap * sizeof *tab);
	for (size_t i = 0; i < nroots; i++) {
		const char *subj = speaker(t, roots[i])->subject;
		if (!*subj)
			continue;
		size_t h = subject_slot(t, tab, cap, subj);
		if (tab[h] < 0 || better_entry(t, roots[i], tab[h]))
			tab[h] = roots[i];
	}
	for (size_t i = 0; i < nroots; i++) {
		int k = roots[i];
		const char *subj = speaker(t, k)->subject;
		if (!*subj)
			continue;
		size_t h = subject_slot(t, tab, cap, subj);
		if (tab[h] != k)
			tab[h] = join(t, tab[h], k);
	}
	free(tab);
}

/* ---- output ---- */

struct frame {
	int k;		/* container being printed */
	int next;	/* its next child to print, once its own number is out */
	bool started;
};

/* "(" thread ")" of root: a message with one child is followed by that
 * child in the same list; several children each get their own list. */
static void print_thread(const struct tctx *t, struct evbuffer *b, int root, struct frame *st)
{
	size_t depth = 0;
	evbuffer_add(b, "(", 1);
	st[depth++] = (struct frame){ root, -1, false };
	while (depth) {
		struct frame *f = &st[depth - 1];
		const struct ct *c = &t->c[f->k];
		if (!f->started) {
			f->started = true;
			if (c->msg >= 0)
				evbuffer_add_printf(b, "%u", t->m[c->msg].number);
			bool chain = c->msg >= 0 && c->child >= 0 && t->c[c->child].next < 0;
			if (c->msg >= 0 && c->child >= 0)
				evbuffer_add(b, " ", 1);
			if (chain) {	/* the child continues this list */
				f->k = c->child;
				f->started = false;
				continue;
			}
			f->next = c->child;
		}
		if (f->next < 0) {
			evbuffer_add(b, ")", 1);
			depth--;
			continue;
		}
		int ch = f->next;
		f->next = t->c[ch].next;
		evbuffer_add(b, "(", 1);
		st[depth++] = (struct frame){ ch, -1, false };
	}
}

void thread_references(struct evbuffer *out, const struct thread_msg *msgs, size_t n, bool refs)
{
	struct tctx t = { .m = msgs };
	t.hcap = 64;
	while (t.hcap < n * 4 * 2 + 64)
		t.hcap *= 2;
	t.hash = xcalloc(t.hcap, sizeof *t.hash);
	memset(t.hash, 0xff, t.hcap * sizeof *t.hash);
	build(&t, n);
	/* step 5 may add one dummy per root: room for them in every list */
	size_t room = t.n * 2 + 1;
	int *roots = xcalloc(room, sizeof *roots), *order = xcalloc(room, sizeof *order);
	int *tmp = xcalloc(room, sizeof *tmp);
	prune(&t, order, roots);
	size_t nroots = collect_roots(&t, roots);
	sort_tree(&t, roots, nroots, order, tmp, refs);
	if (!refs) {
		merge_subjects(&t, roots, nroots);
		nroots = collect_roots(&t, roots);
		sort_tree(&t, roots, nroots, order, tmp, false);
	}
	struct frame *st = xcalloc(t.n + 1, sizeof *st);
	evbuffer_add(out, "* THREAD ", 9);
	for (size_t i = 0; i < nroots; i++)
		print_thread(&t, out, roots[i], st);
	evbuffer_add(out, "\r\n", 2);
	for (size_t k = 0; k < t.n; k++)
		free(t.c[k].id);
	free(st);
	free(t.c);
	free(t.hash);
	free(roots);
	free(order);
	free(tmp);
}
