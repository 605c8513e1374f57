/* cmd_list.c — LIST (with LIST-EXTENDED, LIST-STATUS, SPECIAL-USE, CHILDREN)
 * and LSUB. */
#include "imapd/commands.h"
#include "common/mailstore.h"
#include "common/mime.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { SEL_SUBSCRIBED = 1, SEL_SPECIALUSE = 2, SEL_RECURSIVE = 4 };
enum { RET_SUBSCRIBED = 1, RET_CHILDREN = 2, RET_SPECIALUSE = 4, RET_STATUS = 8 };

/* IMAP wildcard match: '*' anything, '%' anything but the separator. */
static bool wild(const char *p, const char *n)
{
	for (; *p; p++, n++) {
		if (*p == '*' || *p == '%') {
			for (const char *k = n;; k++) {
				if (wild(p + 1, k))
					return true;
				if (!*k || (*p == '%' && *k == MS_SEP))
					return false;
			}
		}
		if (*p != *n)
			return false;
	}
	return *n == '\0';
}

static bool match(const char *pattern, const char *name)
{
	if (!strcmp(name, "INBOX") && !strncasecmp(pattern, "INBOX", 5)) {
		char *up = xstrdup(pattern);
		memcpy(up, "INBOX", 5);
		bool r = wild(up, name);
		free(up);
		return r;
	}
	return wild(pattern, name);
}

static bool has_children(char **names, size_t n, const char *name)
{
	size_t l = strlen(name);
	for (size_t i = 0; i < n; i++)
		if (!strncmp(names[i], name, l) && names[i][l] == MS_SEP)
			return true;
	return false;
}

static bool listed(char **v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], name))
			return true;
	return false;
}

struct list_req {
	unsigned sel, ret, status_items;
	char **patterns;
	size_t npatterns;
	bool lsub;
	bool utf8;	/* IMAP4rev2: patterns are UTF-8, matched against names shown so */
};

/* One LIST/LSUB line. nonexistent: a subscribed name or a parent with no
 * folder of its own (\NonExistent, RFC 5258); childinfo: the RECURSIVEMATCH
 * CHILDINFO extended data item (RFC 5258 3.5). */
static void list_one(struct session *s, const struct list_req *r, char **names, size_t n,
		     char **subs, size_t nsubs, const char *name, bool nonexistent, bool childinfo)
{
	struct evbuffer *b = s_buf(s);
	bool sub = listed(subs, nsubs, name), kids = has_children(names, n, name);
	const char *use = nonexistent ? NULL : ms_special_use(name);
	evbuffer_add_printf(b, "* %s (", r->lsub ? "LSUB" : "LIST");
	const char *sp = "";
	if (nonexistent) {
		evbuffer_add_printf(b, "\\NonExistent%s", kids ? " \\HasChildren" : "");
		sp = " ";
	} else if (!r->lsub || kids) {
		evbuffer_add_printf(b, "%s", kids ? "\\HasChildren" : "\\HasNoChildren");
		sp = " ";
	}
	if (sub && ((r->ret & RET_SUBSCRIBED) || (r->sel & SEL_SUBSCRIBED))) {
		evbuffer_add_printf(b, "%s\\Subscribed", sp);
		sp = " ";
	}
	if (use && !r->lsub)
		evbuffer_add_printf(b, "%s%s", sp, use);
	evbuffer_add_printf(b, ") \"%c\" ", MS_SEP);
	s_mailbox(s, b, name);
	if (childinfo)	/* it names the base selection option: SUBSCRIBED is the one */
		evbuffer_add_printf(b, " (\"CHILDINFO\" (\"SUBSCRIBED\"))");
	evbuffer_add(b, "\r\n", 2);
	if ((r->ret & RET_STATUS) && !nonexistent && ms_exists(name))
		status_line(s, name, r->status_items);
}

bool mailbox_has_children(const char *name)
{
	char **names;
	size_t n = ms_list(&names);
	bool r = has_children(names, n, name);
	ms_free_list(names, n);
	return r;
}

void list_mailbox_line(struct session *s, const char *name)
{
	char **names, **subs;
	size_t n = ms_list(&names), nsubs = ms_subscriptions(&subs);
	struct list_req r = { .ret = RET_SUBSCRIBED };
	list_one(s, &r, names, n, subs, nsubs, name, false, false);
	ms_free_list(names, n);
	ms_free_list(subs, nsubs);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool matches_any(const struct list_req *r, const char *ref, const char *name)
{
	/* UTF-8 patterns meet UTF-8 names: a wildcard then matches whole
	 * characters, which it would not inside a modified UTF-7 run */
	char *shown = r->utf8 ? mbox_to_utf8(name) : NULL;
	bool m = false;
	for (size_t k = 0; k < r->npatterns && !m; k++) {
		char *full = xasprintf("%s%s", ref, r->patterns[k]);
		m = match(full, shown ? shown : name);
		free(full);
	}
	free(shown);
	return m;
}

/* Levels of hierarchy that exist only as parents of real folders (another
 * Maildir tool made ".a.b" without ".a"): listed as \Noselect (RFC 3501 6.3.8). */
static void list_missing_parents(struct session *s, const struct list_req *r, const char *ref,
				 char **names, size_t n)
{
	char **seen = NULL;
	size_t nseen = 0;
	for (size_t i = 1; i < n; i++) {
		for (char *dot = strchr(names[i], MS_SEP); dot; dot = strchr(dot + 1, MS_SEP)) {
			char *parent = xstrndup(names[i], (size_t)(dot - names[i]));
			bool exists = bsearch(&parent, names + 1, n - 1, sizeof *names, cmp_str) != NULL;
			bool done = false;
			for (size_t k = 0; k < nseen && !done; k++)
				done = !strcmp(seen[k], parent);
			if (exists || done || (r->sel & (SEL_SUBSCRIBED | SEL_SPECIALUSE)) ||
			    !matches_any(r, ref, parent) || nseen >= 1000) {
				free(parent);
				continue;
			}
			/* IMAP4rev2 says it the RFC 5258 way: no such mailbox */
			struct evbuffer *b = s_buf(s);
			evbuffer_add_printf(b, "* LIST (%s \\HasChildren) \"%c\" ",
					    s->rev2 ? "\\NonExistent" : "\\Noselect", MS_SEP);
			s_mailbox(s, b, parent);
			evbuffer_add(b, "\r\n", 2);
			seen = xrealloc(seen, (nseen + 1) * sizeof *seen);
			seen[nseen++] = parent;
		}
	}
	ms_free_list(seen, nseen);
}

/* The names LIST considers, each with what is known of it. */
enum { E_EXISTS = 1, E_SUB = 2, E_MATCHED = 4, E_CHILDINFO = 8 };
struct lent {
	char *name;
	unsigned f;
};
struct ltab {
	struct lent *v;
	size_t n;
};

static void ltab_add(struct ltab *t, const char *name, unsigned f)
{
	t->v = xrealloc(t->v, (t->n + 1) * sizeof *t->v);
	t->v[t->n++] = (struct lent){ xstrdup(name), f };
}

/* INBOX first, then by name (the order LIST has always used). */
static int cmp_lent(const void *a, const void *b)
{
	const char *x = ((const struct lent *)a)->name, *y = ((const struct lent *)b)->name;
	bool xi = !strcmp(x, "INBOX"), yi = !strcmp(y, "INBOX");
	if (xi || yi)
		return yi - xi;
	return strcmp(x, y);
}

/* Sort, then fold duplicates into one entry carrying every flag. */
static void ltab_sort(struct ltab *t)
{
	qsort(t->v, t->n, sizeof *t->v, cmp_lent);
	size_t k = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (k && !strcmp(t->v[k - 1].name, t->v[i].name)) {
			t->v[k - 1].f |= t->v[i].f;
			free(t->v[i].name);
		} else {
			t->v[k++] = t->v[i];
		}
	}
	t->n = k;
}

static struct lent *ltab_find(struct ltab *t, const char *name)
{
	struct lent key = { (char *)name, 0 };
	return bsearch(&key, t->v, t->n, sizeof *t->v, cmp_lent);
}

static void ltab_free(struct ltab *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].name);
	free(t->v);
}

/* Every ancestor of every entry, for mark_selected (sort afterwards). */
static void ltab_add_ancestors(struct ltab *t)
{
	size_t known = t->n;
	for (size_t i = 0; i < known; i++)
		for (char *d = strchr(t->v[i].name, MS_SEP); d; d = strchr(d + 1, MS_SEP)) {
			char *p = xstrndup(t->v[i].name, (size_t)(d - t->v[i].name));
			ltab_add(t, p, 0);
			free(p);
		}
}

/* Does the entry meet the selection options (RFC 5258 3.1)? */
static bool selected(const struct list_req *r, const struct lent *e)
{
	if ((r->sel & SEL_SUBSCRIBED) && !(e->f & E_SUB))
		return false;
	if ((r->sel & SEL_SPECIALUSE) && !((e->f & E_EXISTS) && ms_special_use(e->name)))
		return false;
	return (r->sel & SEL_SUBSCRIBED) || (e->f & E_EXISTS);
}

/* A selected name that matches the patterns is listed. With RECURSIVEMATCH
 * its matching ancestors get CHILDINFO, and when the name itself does not
 * match, its nearest matching ancestor is listed in its stead; an ancestor
 * whose selected descendants are all listed anyway is not (RFC 5258 3.5:
 * servers SHOULD suppress redundant responses; section 5, example 9). */
static void mark_selected(const struct list_req *r, const char *ref, struct ltab *t,
			  const char *name)
{
	bool first = true;
	char *cur = xstrdup(name);
	for (;;) {
		if (matches_any(r, ref, cur)) {
			struct lent *e = ltab_find(t, cur);
			if (first)
				e->f |= E_MATCHED;
			if (strcmp(cur, name))
				e->f |= E_CHILDINFO;
			first = false;
		}
		char *dot = strrchr(cur, MS_SEP);
		if (!(r->sel & SEL_RECURSIVE) || !dot)
			break;
		*dot = '\0';
	}
	free(cur);
}

static void list_selected(struct session *s, const struct list_req *r, const char *ref,
			  char **names, size_t n, char **subs, size_t nsubs)
{
	struct ltab t = { 0 };
	for (size_t i = 0; i < n; i++)
		ltab_add(&t, names[i], E_EXISTS);
	if (r->sel & SEL_SUBSCRIBED)
		for (size_t i = 0; i < nsubs; i++)
			ltab_add(&t, subs[i], E_SUB);
	if (r->sel & SEL_RECURSIVE)
		ltab_add_ancestors(&t);
	ltab_sort(&t);
	for (size_t i = 0; i < t.n; i++)
		if (selected(r, &t.v[i]))
			mark_selected(r, ref, &t, t.v[i].name);
	for (size_t i = 0; i < t.n; i++)
		if (t.v[i].f & E_MATCHED)
			list_one(s, r, names, n, subs, nsubs, t.v[i].name, !(t.v[i].f & E_EXISTS),
				 (t.v[i].f & E_CHILDINFO) != 0);
	ltab_free(&t);
}

/* LSUB lists subscriptions, existing or not. A subscribed name the pattern
 * does not reach is stood for by its nearest ancestor the pattern matches,
 * flagged \Noselect unless subscribed itself (RFC 3501 6.3.9: LSUB "" "%"
 * with foo.bar subscribed but not foo gives foo). */
static void lsub_subscribed(struct session *s, const struct list_req *r, const char *ref,
			    char **names, size_t n, char **subs, size_t nsubs)
{
	struct list_req walk = *r;
	walk.sel |= SEL_RECURSIVE;
	struct ltab t = { 0 };
	for (size_t i = 0; i < nsubs; i++)
		ltab_add(&t, subs[i], E_SUB);
	ltab_add_ancestors(&t);
	ltab_sort(&t);
	for (size_t i = 0; i < t.n; i++)
		if (t.v[i].f & E_SUB)
			mark_selected(&walk, ref, &t, t.v[i].name);
	for (size_t i = 0; i < t.n; i++) {
		if (!(t.v[i].f & E_MATCHED))
			continue;
		if (t.v[i].f & E_SUB) {
			list_one(s, r, names, n, subs, nsubs, t.v[i].name, false, false);
			continue;
		}
		struct evbuffer *b = s_buf(s);
		evbuffer_add_printf(b, "* LSUB (\\Noselect) \"%c\" ", MS_SEP);
		s_mailbox(s, b, t.v[i].name);
		evbuffer_add(b, "\r\n", 2);
	}
	ltab_free(&t);
}

static void run_list(struct session *s, const struct list_req *r, const char *ref)
{
	char **names, **subs;
	size_t n = ms_list(&names);
	size_t nsubs = ms_subscriptions(&subs);
	if (r->lsub) {
		lsub_subscribed(s, r, ref, names, n, subs, nsubs);
	} else {
		list_selected(s, r, ref, names, n, subs, nsubs);
		list_missing_parents(s, r, ref, names, n);
	}
	ms_free_list(names, n);
	ms_free_list(subs, nsubs);
}

static bool parse_options(struct ip *ip, unsigned *bits, unsigned *status_items, bool ret)
{
	for (int i = 0; i < 20; i++) {
		if (ip_char(ip, ')'))
			return true;
		if (i && !ip_sp(ip))
			return false;
		char *a = ip_atom(ip);
		if (!a)
			return false;
		if (!strcasecmp(a, "SUBSCRIBED"))
			*bits |= ret ? RET_SUBSCRIBED : SEL_SUBSCRIBED;
		else if (!strcasecmp(a, "SPECIAL-USE"))
			*bits |= ret ? RET_SPECIALUSE : SEL_SPECIALUSE;
		else if (!ret && !strcasecmp(a, "RECURSIVEMATCH"))
			*bits |= SEL_RECURSIVE;
		else if (!ret && !strcasecmp(a, "REMOTE"))
			;
		else if (ret && !strcasecmp(a, "CHILDREN"))
			*bits |= RET_CHILDREN;
		else if (ret && !strcasecmp(a, "STATUS")) {
			*bits |= RET_STATUS;
			if (!ip_sp(ip) || parse_status_items(ip, status_items) < 0) {
				free(a);
				return false;
			}
		} else {
			free(a);
			return false;
		}
		free(a);
	}
	return false;
}

static void do_list(struct session *s, struct ip *ip, bool lsub)
{
	struct list_req r = { .lsub = lsub, .utf8 = s_utf8_names(s) };
	char *ref = NULL;
	if (!ip_sp(ip))
		goto syntax;
	if (!lsub && ip_char(ip, '(') && (!parse_options(ip, &r.sel, NULL, false) || !ip_sp(ip)))
		goto syntax;
	if (!(ref = ip_astring(ip, NULL)) || !ip_sp(ip))
		goto syntax;
	bool multi = !lsub && ip_char(ip, '(');
	for (int i = 0; i < 50; i++) {
		if (multi && i && ip_char(ip, ')'))
			break;
		if (multi && i && !ip_sp(ip))
			goto syntax;
		char *p = ip_listmbox(ip);
		if (!p)
			goto syntax;
		r.patterns = xrealloc(r.patterns, (r.npatterns + 1) * sizeof *r.patterns);
		r.patterns[r.npatterns++] = p;
		if (!multi)
			break;
	}
	if (!lsub && ip_char(ip, ' ')) {
		char *kw = ip_atom(ip);
		bool ok = kw && !strcasecmp(kw, "RETURN") && ip_sp(ip) && ip_char(ip, '(') &&
			  parse_options(ip, &r.ret, &r.status_items, true);
		free(kw);
		if (!ok)
			goto syntax;
	}
	if (!ip_eol(ip) || !r.npatterns)
		goto syntax;
	if ((r.sel & SEL_RECURSIVE) && !(r.sel & SEL_SUBSCRIBED)) {
		/* RFC 5258 3.1: never alone (or with REMOTE only); SPECIAL-USE is an
		 * independent option, not a base one (RFC 6154 6) */
		s_bad(s, "RECURSIVEMATCH needs the SUBSCRIBED selection option");
		goto out;
	}
	if (r.npatterns == 1 && !*r.patterns[0] && !lsub) {
		s_out(s, "* LIST (\\Noselect) \"%c\" \"\"", MS_SEP);
	} else {
		run_list(s, &r, ref);
	}
	s_ok(s, "%s completed", lsub ? "LSUB" : "LIST");
	goto out;
syntax:
	s_bad(s, "Syntax: %s", lsub ? "LSUB reference pattern"
				    : "LIST [(options)] reference pattern [RETURN (options)]");
out:
	free(ref);
	for (size_t i = 0; i < r.npatterns; i++)
		free(r.patterns[i]);
	free(r.patterns);
}

void cmd_list(struct session *s, struct ip *ip, bool uid)
{
	do_list(s, ip, false);
}

void cmd_lsub(struct session *s, struct ip *ip, bool uid)
{
	do_list(s, ip, true);
}
