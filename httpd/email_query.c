/* email_query.c — searching and sorting the account's messages (see
 * email_query.h). */
#include "httpd/email_query.h"
#include "httpd/email.h"
#include "httpd/jmap_util.h"
#include "httpd/journal.h"
#include "httpd/sess.h"
#include "common/maildate.h"
#include "common/mailindex.h"
#include "common/map.h"
#include "common/mime.h"
#include "common/mime_addr.h"
#include "common/mime_stream.h"
#include "common/util.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define FILTER_DEPTH 16

struct row {
	char id[OBJECTID_LEN + 1], thread[OBJECTID_LEN + 1];
	const struct folder *f;
	uint32_t uid, flags;
	int64_t idate, sent;
	uint64_t size;
	char *kw;		/* " kw1 kw2 " lower case, flags as $seen ... */
	char *path;
	char *from, *to, *cc, *bcc, *subject;
	int attach;		/* -1: not looked at yet */
};

struct query {
	struct jcall *c;
	struct row *rows;
	size_t n;
	json_t *threads;	/* thread -> [row index] (built when a condition needs it) */
};

static void row_free(struct row *r)
{
	free(r->kw);
	free(r->path);
	free(r->from);
	free(r->to);
	free(r->cc);
	free(r->bcc);
	free(r->subject);
}

static char *kw_string(const struct mi_rec *rec)
{
	static const struct { uint32_t f; const char *k; } map[] = {
		{ MI_SEEN, "$seen" }, { MI_FLAGGED, "$flagged" }, { MI_ANSWERED, "$answered" },
		{ MI_DRAFT, "$draft" },
	};
	size_t n = strlen(rec->keywords ? rec->keywords : "");
	char *s = xmalloc(n + 64), *o = s;
	*o++ = ' ';
	for (size_t i = 0; i < ARRAY_LEN(map); i++)
		if (rec->flags & map[i].f)
			o += sprintf(o, "%s ", map[i].k);
	for (const char *p = rec->keywords ? rec->keywords : ""; *p; p++)
		*o++ = (char)tolower((unsigned char)*p);
	if (n)
		*o++ = ' ';
	*o = '\0';
	return s;
}

static bool has_kw(const struct row *r, const char *kw)
{
	char *k = xasprintf(" %s ", kw);
	for (char *p = k; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	bool yes = strstr(r->kw, k) != NULL;
	free(k);
	return yes;
}

/* ---- header fields: from the index's cache, else the file ---- */

static void set_field(struct row *r, const char *name, const char *value)
{
	char **slot = !strcasecmp(name, "from") ? &r->from : !strcasecmp(name, "to") ? &r->to
		      : !strcasecmp(name, "cc") ? &r->cc : !strcasecmp(name, "bcc") ? &r->bcc
		      : !strcasecmp(name, "subject") ? &r->subject : NULL;
	if (slot && !*slot)
		*slot = xstrdup(value);
	int off;
	if (!strcasecmp(name, "date") && r->sent < 0 && !maildate_parse(value, &r->sent, &off))
		r->sent = -1;
}

static int file_field(const char *name, const char *value, void *arg)
{
	char *d = mime_decode_words(value);
	set_field(arg, name, d ? d : value);
	free(d);
	return 0;
}

static void fields_from_file(struct row *r)
{
	int fd = open(r->path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		struct mime_msg *m = mime_parse_fd(fd, 256 * 1024, NULL);
		if (m) {
			mime_header_each(m->buf + m->root->hdr_off, m->root->hdr_len, file_field, r);
			mime_stream_free(m);
		}
		close(fd);
	}
}

static void fields_from_cache(struct row *r, const char *rec, size_t len)
{
	const char *p = rec + MI_FIELDS_HDR, *end = rec + len, *name, *value;
	while (mi_fields_next(&p, end, &name, &value))
		set_field(r, name, value);
}

/* ---- loading the messages ---- */

struct uscan {
	json_t *map;	/* "uid hex" -> "emailid thread" */
};

static int take_u(const char *key, const char *val, size_t vlen, void *arg)
{
	const char *colon = strrchr(key, ':');
	if (colon)
		json_object_set_new(((struct uscan *)arg)->map, colon + 1, json_string(val));
	return 0;
}

static void load_folder(struct query *q, struct journal *j, const struct folder *f, bool fields)
{
	char why[256];
	struct mi *mi = mi_open(f->dir, NULL, NULL, why, sizeof why);
	if (!mi)
		return;
	struct mi_rec *recs;
	size_t n;
	if (mi_load(mi, &recs, &n) < 0) {
		mi_close(mi);
		return;
	}
	char *prefix = xasprintf("U%s:", f->id);
	struct uscan us = { json_object() };
	map_each_prefix(j->m, prefix, take_u, &us);
	free(prefix);
	struct mi_fcur *fc = fields ? mi_fields_open(mi) : NULL;
	q->rows = xrealloc(q->rows, (q->n + n + 1) * sizeof *q->rows);
	for (size_t i = 0; i < n; i++) {
		char hex[16];
		snprintf(hex, sizeof hex, "%08x", recs[i].uid);
		const char *u = json_string_value(json_object_get(us.map, hex));
		struct row *r = &q->rows[q->n];
		memset(r, 0, sizeof *r);
		if (!u || sscanf(u, "%25s %25s", r->id, r->thread) != 2)
			continue;	/* arrived after this request's sync */
		r->f = f;
		r->uid = recs[i].uid;
		r->flags = recs[i].flags;
		r->idate = recs[i].idate;
		r->size = recs[i].size;
		r->kw = kw_string(&recs[i]);
		r->path = mi_path(mi, &recs[i]);
		r->sent = -1;
		r->attach = -1;
		size_t flen;
		const char *frec = fc ? mi_fields_get(fc, recs[i].uid, &flen) : NULL;
		if (frec)
			fields_from_cache(r, frec, flen);
		q->n++;
	}
	if (fc)
		mi_fields_close(fc);
	mi_recs_free(recs, n);
	mi_close(mi);
	json_decref(us.map);
	/* messages the cache had no record for read their header (fields only) */
	for (size_t i = q->n; fields && i-- > 0 && q->rows[i].f == f;)
		if (!q->rows[i].from && !q->rows[i].subject && q->rows[i].sent < 0)
			fields_from_file(&q->rows[i]);
}

/* ---- filters ---- */

static bool contains(const char *hay, const char *needle)
{
	return hay && strcasestr(hay, needle);
}

static void need_threads(struct query *q)
{
	if (q->threads)
		return;
	q->threads = json_object();
	for (size_t i = 0; i < q->n; i++) {
		json_t *a = json_object_get(q->threads, q->rows[i].thread);
		if (!a) {
			a = json_array();
			json_object_set_new(q->threads, q->rows[i].thread, a);
		}
		json_array_append_new(a, json_integer((json_int_t)i));
	}
}

/* How many messages of r's thread have kw, of how many. */
static void thread_kw(struct query *q, const struct row *r, const char *kw, size_t *have,
		      size_t *all)
{
	need_threads(q);
	json_t *a = json_object_get(q->threads, r->thread);
	size_t i;
	json_t *v;
	*have = *all = 0;
	json_array_foreach(a, i, v) {
		(*all)++;
		*have += has_kw(&q->rows[json_integer_value(v)], kw);
	}
}

static bool attach_of(struct row *r)
{
	if (r->attach < 0)
		r->attach = email_file_has_attachment(r->path);
	return r->attach > 0;
}

/* One FilterCondition property: 1 match, 0 not, -1 bad value, -2 unknown. */
static int condition(struct query *q, struct row *r, const char *key, json_t *v)
{
	const char *s = json_string_value(v);
	int64_t t;
	size_t have, all;
	if (!strcmp(key, "inMailbox"))
		return s ? !strcmp(r->f->id, s) : -1;
	if (!strcmp(key, "inMailboxOtherThan")) {
		if (!json_is_array(v))
			return -1;
		size_t i;
		json_t *m;
		json_array_foreach(v, i, m)
			if (json_is_string(m) && !strcmp(json_string_value(m), r->f->id))
				return 0;
		return 1;
	}
	if (!strcmp(key, "before") || !strcmp(key, "after")) {
		if (!maildate_parse_rfc3339(s, &t))
			return -1;
		return key[0] == 'b' ? r->idate < t : r->idate >= t;
	}
	if (!strcmp(key, "minSize") || !strcmp(key, "maxSize")) {
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return -1;
		return key[1] == 'i' ? r->size >= (uint64_t)json_integer_value(v)
				     : r->size < (uint64_t)json_integer_value(v);
	}
	if (!strcmp(key, "hasKeyword") || !strcmp(key, "notKeyword"))
		return !s ? -1 : key[0] == 'h' ? has_kw(r, s) : !has_kw(r, s);
	if (!strcmp(key, "allInThreadHaveKeyword") || !strcmp(key, "someInThreadHaveKeyword") ||
	    !strcmp(key, "noneInThreadHaveKeyword")) {
		if (!s)
			return -1;
		thread_kw(q, r, s, &have, &all);
		return key[0] == 'a' ? have == all : key[0] == 's' ? have > 0 : have == 0;
	}
	if (!strcmp(key, "hasAttachment"))
		return json_is_boolean(v) ? attach_of(r) == json_is_true(v) : -1;
	if (!strcmp(key, "from") || !strcmp(key, "to") || !strcmp(key, "cc") ||
	    !strcmp(key, "bcc") || !strcmp(key, "subject")) {
		const char *field = key[0] == 'f' ? r->from : key[0] == 't' ? r->to : key[0] == 'c' ? r->cc
				  : key[0] == 'b' ? r->bcc : r->subject;
		return s ? contains(field, s) : -1;
	}
	if (!strcmp(key, "body"))
		return s ? email_file_body_contains(r->path, s) : -1;
	if (!strcmp(key, "text"))
		return !s ? -1 : contains(r->from, s) || contains(r->to, s) || contains(r->cc, s) ||
				 contains(r->bcc, s) || contains(r->subject, s) ||
				 email_file_body_contains(r->path, s);
	if (!strcmp(key, "header")) {
		if (!json_is_array(v) || json_array_size(v) < 1 || json_array_size(v) > 2 ||
		    !json_is_string(json_array_get(v, 0)))
			return -1;
		const char *val = json_string_value(json_array_get(v, 1));
		return email_file_header_contains(r->path, json_string_value(json_array_get(v, 0)), val);
	}
	return -2;
}

static int matches(struct query *q, struct row *r, json_t *f, int depth)
{
	if (!f || json_is_null(f))
		return 1;
	if (!json_is_object(f) || depth > FILTER_DEPTH)
		return -1;
	json_t *op = json_object_get(f, "operator");
	if (op) {
		const char *o = json_string_value(op);
		json_t *conds = json_object_get(f, "conditions");
		if (!o || !json_is_array(conds) || json_object_size(f) != 2)
			return -1;
		bool and = !strcmp(o, "AND"), or = !strcmp(o, "OR"), not = !strcmp(o, "NOT");
		if (!and && !or && !not)
			return -1;
		size_t i;
		json_t *sub;
		json_array_foreach(conds, i, sub) {
			int m = matches(q, r, sub, depth + 1);
			if (m < 0)
				return m;
			if (and && !m)
				return 0;
			if ((or || not) && m)
				return or;
		}
		return and || not;
	}
	const char *key;
	json_t *v;
	json_object_foreach(f, key, v) {
		int m = condition(q, r, key, v);
		if (m <= 0)
			return m;
	}
	return 1;
}

/* Does the filter need the header fields, or every folder (thread conditions)? */
static void filter_needs(json_t *f, bool *fields, bool *all_folders, json_t **mbox, int depth)
{
	if (!json_is_object(f) || depth > FILTER_DEPTH)
		return;
	json_t *conds = json_object_get(f, "conditions");
	if (conds) {
		size_t i;
		json_t *sub;
		json_array_foreach(conds, i, sub)
			filter_needs(sub, fields, all_folders, NULL, depth + 1);
		*all_folders = true;	/* under an operator, inMailbox narrows nothing */
		return;
	}
	const char *key;
	json_t *v;
	json_object_foreach(f, key, v) {
		if (!strcmp(key, "from") || !strcmp(key, "to") || !strcmp(key, "cc") ||
		    !strcmp(key, "bcc") || !strcmp(key, "subject") || !strcmp(key, "text"))
			*fields = true;
		if (strstr(key, "InThread"))
			*all_folders = true;
		if (!strcmp(key, "inMailbox") && mbox)
			*mbox = v;
	}
}

/* ---- sorting ---- */

struct sortkey {
	int prop;		/* SK_* */
	bool desc;
	const char *kw;
};

enum { SK_RECEIVED, SK_SIZE, SK_FROM, SK_TO, SK_SUBJECT, SK_SENT, SK_HASKW, SK_ALLKW, SK_SOMEKW };

static struct query *sort_q;
static struct sortkey *sort_keys;
static size_t sort_n;

/* The first address's name, else its address, lower case. */
static char *addr_key(const char *v)
{
	if (!v)
		return xstrdup("");
	struct mime_addr *a;
	size_t n = mime_addr_parse(v, &a);
	char *k = NULL;
	for (size_t i = 0; i < n && !k; i++)
		if (a[i].host)
			k = xstrdup(a[i].name && *a[i].name ? a[i].name : a[i].mailbox ? a[i].mailbox : "");
	mime_addr_free(a, n);
	if (!k)
		k = xstrdup(v);
	for (char *p = k; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return k;
}

/* Subject without Re:/Fwd: prefixes and leading space. */
static const char *base_subject(const char *s)
{
	if (!s)
		return "";
	for (;;) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (!strncasecmp(s, "re:", 3))
			s += 3;
		else if (!strncasecmp(s, "fwd:", 4))
			s += 4;
		else if (!strncasecmp(s, "fw:", 3))
			s += 3;
		else
			return s;
	}
}

static int cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

static int compare_key(const struct row *a, const struct row *b, const struct sortkey *k)
{
	size_t h1, n1, h2, n2;
	switch (k->prop) {
	case SK_RECEIVED:
		return cmp_i64(a->idate, b->idate);
	case SK_SIZE:
		return cmp_i64((int64_t)a->size, (int64_t)b->size);
	case SK_SENT:
		return cmp_i64(a->sent, b->sent);
	case SK_SUBJECT:
		return strcasecmp(base_subject(a->subject), base_subject(b->subject));
	case SK_FROM:
	case SK_TO: {
		char *x = addr_key(k->prop == SK_FROM ? a->from : a->to);
		char *y = addr_key(k->prop == SK_FROM ? b->from : b->to);
		int r = strcmp(x, y);
		free(x);
		free(y);
		return r;
	}
	case SK_HASKW:
		return (int)has_kw(a, k->kw) - (int)has_kw(b, k->kw);
	default:
		thread_kw(sort_q, a, k->kw, &h1, &n1);
		thread_kw(sort_q, b, k->kw, &h2, &n2);
		return k->prop == SK_ALLKW ? (int)(h1 == n1) - (int)(h2 == n2)
					   : (int)(h1 > 0) - (int)(h2 > 0);
	}
}

static int cmp_rows(const void *pa, const void *pb)
{
	const struct row *a = &sort_q->rows[*(const size_t *)pa], *b = &sort_q->rows[*(const size_t *)pb];
	for (size_t i = 0; i < sort_n; i++) {
		int r = compare_key(a, b, &sort_keys[i]);
		if (r)
			return sort_keys[i].desc ? -r : r;
	}
	return strcmp(a->id, b->id);	/* a stable order for equal keys */
}

/* The sort argument into keys; -1 unsupported, -2 malformed. */
static int parse_sort(json_t *sort, struct sortkey **out, size_t *n)
{
	static const char *const names[] = { "receivedAt", "size", "from", "to", "subject", "sentAt",
					     "hasKeyword", "allInThreadHaveKeyword",
					     "someInThreadHaveKeyword" };
	*out = NULL;
	*n = 0;
	if (!sort || json_is_null(sort)) {
		*out = xcalloc(1, sizeof **out);
		(*out)[0] = (struct sortkey){ SK_RECEIVED, true, NULL };
		*n = 1;
		return 0;
	}
	if (!json_is_array(sort))
		return -2;
	*out = xcalloc(json_array_size(sort) + 1, sizeof **out);
	size_t i;
	json_t *s;
	json_array_foreach(sort, i, s) {
		const char *p = json_string_value(json_object_get(s, "property"));
		json_t *asc = json_object_get(s, "isAscending");
		const char *coll = json_string_value(json_object_get(s, "collation"));
		if (!p || (asc && !json_is_boolean(asc)))
			return -2;
		size_t k = 0;
		while (k < ARRAY_LEN(names) && strcmp(names[k], p))
			k++;
		if (k == ARRAY_LEN(names) || (coll && strcmp(coll, "i;ascii-casemap") &&
					      strcmp(coll, "i;unicode-casemap")))
			return -1;
		const char *kw = json_string_value(json_object_get(s, "keyword"));
		if (k >= SK_HASKW && !kw)
			return -2;
		(*out)[(*n)++] = (struct sortkey){ (int)k, json_is_false(asc), kw };
	}
	return 0;
}

/* ---- the query ---- */

static void free_query(struct query *q)
{
	for (size_t i = 0; i < q->n; i++)
		row_free(&q->rows[i]);
	free(q->rows);
	json_decref(q->threads);
}

/* The full sorted result: ids (an array), or NULL after answering an error. */
static json_t *run_query(struct jcall *c, json_t *args)
{
	json_t *filter = json_object_get(args, "filter");
	struct sortkey *keys;
	size_t nk;
	int sr = parse_sort(json_object_get(args, "sort"), &keys, &nk);
	if (sr < 0) {
		free(keys);
		jmap_error(c, sr == -1 ? "unsupportedSort" : "invalidArguments", "sort");
		return NULL;
	}
	bool fields = false, all = false;
	json_t *mbox = NULL;
	filter_needs(filter, &fields, &all, &mbox, 0);
	for (size_t i = 0; i < nk; i++)
		fields |= keys[i].prop == SK_FROM || keys[i].prop == SK_TO ||
			  keys[i].prop == SK_SUBJECT || keys[i].prop == SK_SENT;
	all |= json_is_true(json_object_get(args, "collapseThreads"));
	struct query q = { .c = c };
	struct journal *j = journal_open(false);
	const struct account *a = &c->s->acct;
	for (size_t i = 0; j && i < a->nf; i++)
		if (all || !json_is_string(mbox) || !strcmp(json_string_value(mbox), a->f[i].id))
			load_folder(&q, j, &a->f[i], fields);
	journal_close(j);
	size_t *hits = xmalloc((q.n + 1) * sizeof *hits), nh = 0;
	for (size_t i = 0; i < q.n; i++) {
		int m = matches(&q, &q.rows[i], filter, 0);
		if (m < 0) {
			jmap_error(c, m == -2 ? "unsupportedFilter" : "invalidArguments", "filter");
			free(hits);
			free(keys);
			free_query(&q);
			return NULL;
		}
		if (m)
			hits[nh++] = i;
	}
	sort_q = &q;
	sort_keys = keys;
	sort_n = nk;
	qsort(hits, nh, sizeof *hits, cmp_rows);
	json_t *ids = json_array(), *seen = json_object();
	bool collapse = json_is_true(json_object_get(args, "collapseThreads"));
	for (size_t i = 0; i < nh; i++) {
		const struct row *r = &q.rows[hits[i]];
		if (collapse && json_object_get(seen, r->thread))
			continue;
		json_object_set_new(seen, r->thread, json_true());
		json_array_append_new(ids, json_string(r->id));
	}
	json_decref(seen);
	free(hits);
	free(keys);
	free_query(&q);
	return ids;
}

void email_query(struct jcall *c, json_t *args)
{
	static const char *const known[] = { "accountId", "filter", "sort", "position", "anchor",
					     "anchorOffset", "limit", "calculateTotal",
					     "collapseThreads", NULL };
	if (!jmap_account_ok(c, args) || !jmap_args_known(c, args, known) ||
	    email_query_recent(c, args))
		return;
	jmap_query_method(c, args, "Email", known, run_query, false);
}

void email_query_changes(struct jcall *c, json_t *args)
{
	static const char *const known[] = { "accountId", "filter", "sort", "sinceQueryState",
					     "maxChanges", "upToId", "calculateTotal",
					     "collapseThreads", NULL };
	jmap_query_method(c, args, "Email", known, run_query, true);
}
