/* search_eval.c — the search program run over the selected view, with
 * RFC 2047/2231-decoded header and body matching.
 *
 * Keys on the envelope's header fields (FROM, TO, CC, BCC, SUBJECT, HEADER of
 * one of those, SENTBEFORE/ON/SINCE) are answered from the decoded values the
 * index caches per message (mailindex.h, mi_fields_*), read with one cursor in
 * UID order; only BODY, TEXT, HEADER of another field, and messages without a
 * cached record read and parse the file. Both paths compare the same strings:
 * mime_header_each's unfolded value, RFC 2047-decoded (for FROM/TO/CC/BCC the
 * address list as mime_addr_text writes it). */
#include "imapd/search.h"
#include "imapd/casefold.h"
#include "common/mailindex.h"
#include "common/mime.h"
#include "common/mime_addr.h"
#include "common/objectid.h"
#include "common/threadid.h"
#include "common/util.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- evaluation ---- */

#define BACKFILL_MAX	(8u * 1024 * 1024)	/* field records stored per command */

/* One pass over the selected folder. */
struct srun {
	struct session *s;
	struct mi *mi;
	struct mi_fcur *fc;	/* cached header fields, in UID order */
	struct threadids tid;	/* THREADID (common/threadid.h) */
	/* records missing from the index, built from parsed messages and
	 * stored after the pass (no writes while the cursor is open) */
	struct backfill {
		uint32_t uid;
		char *rec;
		size_t len;
	} *bf;
	size_t nbf, bf_bytes;
};

struct msgctx {
	struct srun *run;
	struct session *s;
	struct mi *mi;
	size_t idx;
	struct mi_rec rec;
	bool have_rec;
	char *data;		/* CRLF message, loaded on demand */
	size_t len;
	struct mime_msg *m;
	bool loaded;
	const char *fields;	/* cached header fields (index memory) */
	size_t flen;
	bool fields_tried;
};

static bool need_fields(struct msgctx *c)
{
	if (!c->fields_tried) {
		c->fields_tried = true;
		c->fields = mi_fields_get(c->run->fc, c->s->sel->m[c->idx].uid, &c->flen);
	}
	return c->fields != NULL;
}

/* The message was parsed although a cached key wanted its fields: keep them. */
static void backfill(struct msgctx *c)
{
	struct srun *r = c->run;
	if (!c->fields_tried || c->fields || !c->m || r->bf_bytes >= BACKFILL_MAX)
		return;
	size_t len;
	char *rec = mi_fields_encode(c->m, &len);
	if (!rec)
		return;
	r->bf = xrealloc(r->bf, (r->nbf + 1) * sizeof *r->bf);
	r->bf[r->nbf++] = (struct backfill){ c->s->sel->m[c->idx].uid, rec, len };
	r->bf_bytes += len;
}

static bool need_rec(struct msgctx *c)
{
	if (!c->have_rec)
		c->have_rec = mi_get(c->mi, c->s->sel->m[c->idx].uid, &c->rec) == 1;
	return c->have_rec;
}

static bool load(struct msgctx *c)
{
	if (c->loaded)
		return c->m != NULL;
	c->loaded = true;
	if (!need_rec(c))
		return false;
	char *path = mi_path(c->mi, &c->rec);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(path);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size > 256 * 1024 * 1024) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	char *raw = xmalloc((size_t)st.st_size + 1);
	int r = read_full(fd, raw, (size_t)st.st_size);
	close(fd);
	if (r == 0) {
		c->data = mime_to_crlf(raw, (size_t)st.st_size, &c->len);
		c->m = mime_parse(c->data, c->len);
		backfill(c);
	}
	free(raw);
	return c->m != NULL;
}

static bool contains(const char *hay, size_t hl, const char *needle)
{
	return casefold_contains(hay, hl, needle);
}

struct hdr_match {
	const char *field, *str;
	bool addr;
	bool found;
};

static int hdr_cb(const char *name, const char *value, void *arg)
{
	struct hdr_match *h = arg;
	if (h->field && strcasecmp(name, h->field))
		return 0;
	char *dec = h->addr ? mime_addr_text(value) : mime_decode_words(value);
	h->found = contains(dec, strlen(dec), h->str);
	free(dec);
	return h->found;
}

/* Does a field named field (any, when NULL) contain str? With addr, the
 * field is read as addresses and field names it with an '@' before. */
static bool header_has(const struct mime_msg *m, const struct mime_part *p, const char *field,
		       const char *str, bool addr)
{
	struct hdr_match h = { addr ? field + 1 : field, str, addr, false };
	mime_header_each(m->buf + p->hdr_off, p->hdr_len, hdr_cb, &h);
	return h.found;
}

static bool body_has(const struct mime_msg *m, const struct mime_part *p, const char *str, int depth)
{
	if (depth > MIME_MAX_DEPTH)
		return false;
	if (p->multipart) {
		for (const struct mime_part *c = p->children; c; c = c->next)
			if (body_has(m, c, str, depth + 1))
				return true;
		return false;
	}
	if (p->msg)
		return header_has(m, p->msg, NULL, str, false) || body_has(m, p->msg, str, depth + 1);
	if (strcasecmp(p->type, "text") && strcasecmp(p->type, "message"))
		return contains(m->buf + p->body_off, p->body_len, str);
	size_t tl;
	char *t = mime_body_text(m, p, &tl);
	bool r = contains(t, tl, str);
	free(t);
	return r;
}

/* The same match over the cached, already decoded values of the field. */
static bool fields_have(const struct msgctx *c, const char *field, const char *str)
{
	const char *p = c->fields + MI_FIELDS_HDR, *end = c->fields + c->flen, *name, *value;
	while (mi_fields_next(&p, end, &name, &value))
		if (!strcasecmp(name, field) && contains(value, strlen(value), str))
			return true;
	return false;
}

static int64_t day_from_date(const char *d);

/* Date: header as a day number, or -1. */
static int64_t sent_day(const struct mime_msg *m)
{
	char *d = mime_header_get(m->buf + m->root->hdr_off, m->root->hdr_len, "date");
	int64_t r = d ? day_from_date(d) : -1;
	free(d);
	return r;
}

/* The same from the cached fields; false when they cannot tell (a Date with
 * encoded words: the cache holds it decoded, sent_day reads it raw). */
static bool fields_sent_day(const struct msgctx *c, int64_t *day)
{
	const char *p = c->fields + MI_FIELDS_HDR, *end = c->fields + c->flen, *name, *value;
	*day = -1;
	if (c->fields[1] & MI_FIELDS_DATE_ENC)
		return false;
	while (mi_fields_next(&p, end, &name, &value)) {
		if (strcmp(name, "date"))
			continue;
		*day = day_from_date(value);
		break;
	}
	return true;
}

static int64_t day_from_date(const char *d)
{
	static const char *const mon[] = { "jan", "feb", "mar", "apr", "may", "jun",
					   "jul", "aug", "sep", "oct", "nov", "dec" };
	const char *p = strchr(d, ',') ? strchr(d, ',') + 1 : d;
	int day = 0, year = 0;
	char ms[4] = "";
	int64_t r = -1;
	if (sscanf(p, " %d %3s %d", &day, ms, &year) == 3) {
		for (int i = 0; i < 12; i++) {
			if (strcasecmp(ms, mon[i]))
				continue;
			if (year < 100)
				year += year < 50 ? 2000 : 1900;
			struct tm tm = { .tm_mday = day, .tm_mon = i, .tm_year = year - 1900, .tm_hour = 12 };
			r = day_of((int64_t)timegm(&tm));
		}
	}
	return r;
}

static bool kw_in(const char *list, const char *k)
{
	size_t kl = strlen(k);
	for (const char *p = list; p && *p;) {
		const char *e = strchr(p, ' ');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == kl && !strncasecmp(p, k, kl))
			return true;
		p = e ? e + 1 : p + n;
	}
	return false;
}

static int64_t saved(const struct mi_rec *r)
{
	return r->savedate ? r->savedate : r->idate;
}

static bool eval(struct msgctx *c, const struct skey *k)
{
	const struct vmsg *v = &c->s->sel->m[c->idx];
	const struct view *view = c->s->sel;
	switch (k->kind) {
	case SK_ALL: return true;
	case SK_FLAG: return (v->flags & k->flag) != 0;
	case SK_NOFLAG: return (v->flags & k->flag) == 0;
	case SK_KEYWORD: return kw_in(v->kw, k->str);
	case SK_UNKEYWORD: return !kw_in(v->kw, k->str);
	case SK_NEW: return v->recent && !(v->flags & MI_SEEN);
	case SK_OLD: return !v->recent;
	case SK_RECENT: return v->recent;
	case SK_MODSEQ: return (int64_t)v->modseq >= k->num;
	case SK_UID: return view_set_has(view, &k->set, c->idx, true);
	case SK_SEQ: return view_set_has(view, &k->set, c->idx, false);
	case SK_NOT: return !eval(c, k->a);
	case SK_OR: return eval(c, k->a) || eval(c, k->b);
	case SK_AND:
		for (const struct skey *x = k->a; x; x = x->next)
			if (!eval(c, x))
				return false;
		return true;
	case SK_BEFORE: return need_rec(c) && day_of(c->rec.idate) < k->num;
	case SK_ON: return need_rec(c) && day_of(c->rec.idate) == k->num;
	case SK_SINCE: return need_rec(c) && day_of(c->rec.idate) >= k->num;
	/* RFC 8514: a message whose save date the index does not know (stored
	 * before tern kept it) is compared by its internal date, as Dovecot
	 * does, and does not match SAVEDATESUPPORTED */
	case SK_SAVEDBEFORE: return need_rec(c) && day_of(saved(&c->rec)) < k->num;
	case SK_SAVEDON: return need_rec(c) && day_of(saved(&c->rec)) == k->num;
	case SK_SAVEDSINCE: return need_rec(c) && day_of(saved(&c->rec)) >= k->num;
	case SK_SAVEDATESUPPORTED: return need_rec(c) && c->rec.savedate != 0;
	/* OLDER n: arrived at least n seconds ago; YOUNGER n: at most (RFC 5032) */
	case SK_OLDER: return need_rec(c) && c->rec.idate <= k->num;
	case SK_YOUNGER: return need_rec(c) && c->rec.idate >= k->num;
	case SK_LARGER: return need_rec(c) && (int64_t)c->rec.size > k->num;
	case SK_EMAILID: {
		char id[OBJECTID_LEN + 1];
		if (!need_rec(c))
			return false;
		objectid_email(c->rec.file, id);
		return !strcmp(id, k->str);
	}
	case SK_THREADID: {
		char id[OBJECTID_LEN + 1], t[OBJECTID_LEN + 1];
		if (!need_rec(c))
			return false;
		objectid_email(c->rec.file, id);
		char *path = mi_path(c->mi, &c->rec);
		bool ok = threadid_get(&c->run->tid, path, id, t);
		free(path);
		return ok && !strcmp(t, k->str);
	}
	case SK_SMALLER: return need_rec(c) && (int64_t)c->rec.size < k->num;
	case SK_SENTBEFORE: case SK_SENTON: case SK_SENTSINCE: {
		int64_t d;
		if (!need_fields(c) || !fields_sent_day(c, &d))
			d = load(c) ? sent_day(c->m) : -1;
		if (d < 0)
			return false;
		return k->kind == SK_SENTBEFORE ? d < k->num : k->kind == SK_SENTON ? d == k->num : d >= k->num;
	}
	case SK_HEADER:
		if (k->cached && need_fields(c))
			return fields_have(c, k->field, k->str);
		return load(c) && header_has(c->m, c->m->root, k->field, k->str, k->addr);
	case SK_BODY: return load(c) && body_has(c->m, c->m->root, k->str, 0);
	case SK_TEXT:
		return load(c) && (header_has(c->m, c->m->root, NULL, k->str, false) || body_has(c->m, c->m->root, k->str, 0));
	}
	return false;
}

static bool eval_one(struct srun *run, const struct skey *prog, size_t i)
{
	struct session *s = run->s;
	struct msgctx c = { .run = run, .s = s, .mi = run->mi, .idx = i };
	bool r = eval(&c, prog);
	if (c.have_rec)
		mi_rec_clear(&c.rec);
	mime_free(c.m);
	free(c.data);
	return r;
}

/* After the pass: store the field records built from parsed files. */
static void run_end(struct srun *run)
{
	mi_fields_close(run->fc);
	threadid_end(&run->tid);
	for (size_t i = 0; i < run->nbf; i++) {
		mi_fields_put(run->mi, run->bf[i].uid, run->bf[i].rec, run->bf[i].len);
		free(run->bf[i].rec);
	}
	free(run->bf);
}

size_t search_run(struct session *s, struct mi *mi, const struct skey *prog, size_t **idx)
{
	struct srun run = { .s = s, .mi = mi, .fc = mi_fields_open(mi) };
	size_t n = 0;
	*idx = xcalloc(s->sel->n + 1, sizeof **idx);
	for (size_t i = 0; i < s->sel->n; i++)
		if (!s->sel->m[i].gone && eval_one(&run, prog, i))
			(*idx)[n++] = i;
	run_end(&run);
	return n;
}

void search_match(struct session *s, struct mi *mi, const struct skey *prog, const size_t *idx, size_t n,
		  bool *out)
{
	struct srun run = { .s = s, .mi = mi, .fc = mi_fields_open(mi) };
	for (size_t k = 0; k < n; k++)
		out[k] = !s->sel->m[idx[k]].gone && eval_one(&run, prog, idx[k]);
	run_end(&run);
}

/* ---- programs kept past their command (CONTEXT updates) ---- */

/* set (numbers when !uid, or holding "*" or "$") as the UIDs it names now. */
static void freeze_set(struct seqset *set, bool uid, const struct view *v)
{
	struct seqset out = { 0 };
	for (size_t i = 0; i < v->n; i++) {
		if (!view_set_has(v, set, i, uid))
			continue;
		if (out.n && i && out.r[out.n - 1].hi == v->m[i - 1].uid &&
		    view_set_has(v, set, i - 1, uid)) {
			out.r[out.n - 1].hi = v->m[i].uid;	/* the run goes on */
			continue;
		}
		out.r = xrealloc(out.r, (out.n + 1) * sizeof *out.r);
		out.r[out.n++] = (struct seqrange){ v->m[i].uid, v->m[i].uid };
	}
	seqset_free(set);
	*set = out;
}

static bool set_is_fixed(const struct seqset *set)
{
	if (set->last)
		return false;
	for (size_t i = 0; i < set->n; i++)
		if (set->r[i].lo == SEQ_STAR || set->r[i].hi == SEQ_STAR)
			return false;
	return true;
}

void search_freeze(struct skey *k, const struct view *v)
{
	for (; k; k = k->next) {
		if (k->kind == SK_SEQ || (k->kind == SK_UID && !set_is_fixed(&k->set))) {
			freeze_set(&k->set, k->kind == SK_UID, v);
			k->kind = SK_UID;
		}
		search_freeze(k->a, v);
		search_freeze(k->b, v);
	}
}
