/* cmd_search.c — SEARCH and UID SEARCH with every RFC 3501 key, CHARSET
 * conversion (iconv), RFC 2047/2231-decoded header and body matching, and
 * ESEARCH result options (RFC 4731: MIN MAX COUNT ALL; RFC 5182: SAVE, "$").
 *
 * Keys on the envelope's header fields (FROM, TO, CC, BCC, SUBJECT, HEADER of
 * one of those, SENTBEFORE/ON/SINCE) are answered from the decoded values the
 * index caches per message (mailindex.h, mi_fields_*), read with one cursor in
 * UID order; only BODY, TEXT, HEADER of another field, and messages without a
 * cached record read and parse the file. Both paths compare the same strings:
 * mime_header_each's unfolded value, RFC 2047-decoded. */
#include "imapd/commands.h"
#include "common/mailindex.h"
#include "common/mime.h"
#include "common/mime_addr.h"
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

#define SEARCH_MAX_KEYS 256

enum sk { SK_ALL, SK_FLAG, SK_NOFLAG, SK_KEYWORD, SK_UNKEYWORD, SK_NEW, SK_OLD, SK_RECENT,
	  SK_BEFORE, SK_ON, SK_SINCE, SK_SENTBEFORE, SK_SENTON, SK_SENTSINCE, SK_LARGER,
	  SK_SMALLER, SK_MODSEQ, SK_HEADER, SK_BODY, SK_TEXT, SK_UID, SK_SEQ, SK_NOT, SK_OR, SK_AND };

struct skey {
	enum sk kind;
	uint32_t flag;
	int64_t num;		/* date (day number) or size */
	char *field, *str;
	bool cached;		/* HEADER: the index caches this field */
	bool addr;		/* FROM/TO/CC/BCC: match the addresses as text (mime_addr_text) */
	struct seqset set;
	struct skey *a, *b;	/* NOT: a; OR: a, b; AND: list via next */
	struct skey *next;
};

struct sparse {
	struct ip *ip;
	const char *charset;
	int nkeys, depth;
	bool badcharset;
	bool modseq;		/* a MODSEQ key was used: report the highest */
};

static void skey_free(struct skey *k)
{
	while (k) {
		struct skey *n = k->next;
		skey_free(k->a);
		skey_free(k->b);
		free(k->field);
		free(k->str);
		seqset_free(&k->set);
		free(k);
		k = n;
	}
}

static int64_t day_of(int64_t t)
{
	return t >= 0 ? t / 86400 : (t - 86399) / 86400;
}

static char *search_string(struct sparse *p)
{
	size_t len;
	char *s = ip_astring(p->ip, &len);
	if (!s)
		return NULL;
	if (memchr(s, '\0', len)) {
		free(s);
		ip_fail(p->ip, "NUL in search string");
		return NULL;
	}
	char *u = mime_to_utf8(p->charset, s, len);
	free(s);
	if (!u)
		p->badcharset = true;
	return u;
}

static struct skey *parse_key(struct sparse *p);

static struct skey *parse_list(struct sparse *p, bool parens)
{
	struct skey *head = NULL, **tail = &head;
	for (int i = 0;; i++) {
		if (parens && i && ip_char(p->ip, ')'))
			break;
		if (!parens && i && ip_eol(p->ip))
			break;
		if (i && !ip_sp(p->ip))
			goto bad;
		struct skey *k = parse_key(p);
		if (!k)
			goto bad;
		*tail = k;
		tail = &k->next;
	}
	struct skey *and = xcalloc(1, sizeof *and);
	and->kind = SK_AND;
	and->a = head;
	return and;
bad:
	skey_free(head);
	return NULL;
}

static const struct {
	const char *name;
	enum sk kind;
	uint32_t flag;
} simple_keys[] = {
	{ "ALL", SK_ALL, 0 }, { "ANSWERED", SK_FLAG, MI_ANSWERED }, { "DELETED", SK_FLAG, MI_DELETED },
	{ "DRAFT", SK_FLAG, MI_DRAFT }, { "FLAGGED", SK_FLAG, MI_FLAGGED }, { "SEEN", SK_FLAG, MI_SEEN },
	{ "UNANSWERED", SK_NOFLAG, MI_ANSWERED }, { "UNDELETED", SK_NOFLAG, MI_DELETED },
	{ "UNDRAFT", SK_NOFLAG, MI_DRAFT }, { "UNFLAGGED", SK_NOFLAG, MI_FLAGGED },
	{ "UNSEEN", SK_NOFLAG, MI_SEEN }, { "NEW", SK_NEW, 0 }, { "OLD", SK_OLD, 0 },
	{ "RECENT", SK_RECENT, 0 },
};

static const struct {
	const char *name;
	enum sk kind;
} date_keys[] = {
	{ "BEFORE", SK_BEFORE }, { "ON", SK_ON }, { "SINCE", SK_SINCE },
	{ "SENTBEFORE", SK_SENTBEFORE }, { "SENTON", SK_SENTON }, { "SENTSINCE", SK_SENTSINCE },
};

static bool parse_arg_key(struct sparse *p, const char *w, struct skey *k)
{
	for (size_t i = 0; i < ARRAY_LEN(date_keys); i++) {
		if (strcasecmp(w, date_keys[i].name))
			continue;
		char *d = NULL;
		if (!ip_sp(p->ip) || !(d = ip_astring(p->ip, NULL))) {
			free(d);
			return false;
		}
		int64_t t = parse_imap_date(d, false);
		free(d);
		k->kind = date_keys[i].kind;
		k->num = day_of(t);
		return t >= 0;
	}
	static const char *const hdr[] = { "FROM", "TO", "CC", "BCC", "SUBJECT" };
	for (size_t i = 0; i < ARRAY_LEN(hdr); i++) {
		if (strcasecmp(w, hdr[i]))
			continue;
		k->kind = SK_HEADER;
		k->addr = i < 4;
		k->field = k->addr ? xasprintf("@%s", hdr[i]) : xstrdup(hdr[i]);
		k->cached = true;
		return ip_sp(p->ip) && (k->str = search_string(p)) != NULL;
	}
	if (!strcasecmp(w, "HEADER")) {
		k->kind = SK_HEADER;
		bool ok = ip_sp(p->ip) && (k->field = ip_astring(p->ip, NULL)) && ip_sp(p->ip) &&
			  (k->str = search_string(p)) != NULL;
		k->cached = ok && mi_field_cached(k->field);
		return ok;
	}
	if (!strcasecmp(w, "BODY") || !strcasecmp(w, "TEXT")) {
		k->kind = toupper((unsigned char)w[0]) == 'B' ? SK_BODY : SK_TEXT;
		return ip_sp(p->ip) && (k->str = search_string(p)) != NULL;
	}
	if (!strcasecmp(w, "KEYWORD") || !strcasecmp(w, "UNKEYWORD")) {
		k->kind = toupper((unsigned char)w[0]) == 'K' ? SK_KEYWORD : SK_UNKEYWORD;
		return ip_sp(p->ip) && (k->str = ip_atom(p->ip)) != NULL;
	}
	if (!strcasecmp(w, "LARGER") || !strcasecmp(w, "SMALLER")) {
		uint64_t n;
		k->kind = toupper((unsigned char)w[0]) == 'L' ? SK_LARGER : SK_SMALLER;
		if (!ip_sp(p->ip) || !ip_number(p->ip, INT64_MAX / 2, &n))
			return false;
		k->num = (int64_t)n;
		return true;
	}
	if (!strcasecmp(w, "MODSEQ")) {
		/* MODSEQ [entry-name entry-type] value (RFC 7162); entries are ignored */
		uint64_t n;
		k->kind = SK_MODSEQ;
		if (!ip_sp(p->ip))
			return false;
		if (ip_peek(p->ip, '"')) {
			char *name = ip_string(p->ip, NULL), *type = NULL;
			bool ok = name && ip_sp(p->ip) && (type = ip_atom(p->ip)) && ip_sp(p->ip);
			free(name);
			free(type);
			if (!ok)
				return false;
		}
		if (!ip_number(p->ip, UINT64_MAX / 2, &n))
			return false;
		k->num = (int64_t)n;
		p->modseq = true;
		return true;
	}
	if (!strcasecmp(w, "UID")) {
		k->kind = SK_UID;
		char *s = NULL;
		bool ok = ip_sp(p->ip) && (s = ip_until(p->ip, " )")) && seqset_parse(s, &k->set);
		free(s);
		return ok;
	}
	if (!strcasecmp(w, "NOT")) {
		k->kind = SK_NOT;
		return ip_sp(p->ip) && (k->a = parse_key(p)) != NULL;
	}
	if (!strcasecmp(w, "OR")) {
		k->kind = SK_OR;
		return ip_sp(p->ip) && (k->a = parse_key(p)) != NULL && ip_sp(p->ip) &&
		       (k->b = parse_key(p)) != NULL;
	}
	return false;
}

static struct skey *parse_key(struct sparse *p)
{
	if (++p->nkeys > SEARCH_MAX_KEYS || p->depth >= IP_MAX_DEPTH) {
		ip_fail(p->ip, "search program too complex");
		return NULL;
	}
	if (ip_char(p->ip, '(')) {
		p->depth++;
		struct skey *k = parse_list(p, true);
		p->depth--;
		return k;
	}
	struct skey *k = xcalloc(1, sizeof *k);
	if (ip_peek(p->ip, '*') || ip_peek(p->ip, '$') ||
	    (p->ip->p < p->ip->end && isdigit((unsigned char)*p->ip->p))) {
		char *s = ip_until(p->ip, " )");
		k->kind = SK_SEQ;
		bool ok = s && seqset_parse(s, &k->set);
		free(s);
		if (ok)
			return k;
		free(k);
		ip_fail(p->ip, "bad sequence set");
		return NULL;
	}
	p->depth++;
	char *w = ip_atom(p->ip);
	bool ok = w != NULL;
	if (ok) {
		bool simple = false;
		for (size_t i = 0; i < ARRAY_LEN(simple_keys) && !simple; i++) {
			if (!strcasecmp(w, simple_keys[i].name)) {
				k->kind = simple_keys[i].kind;
				k->flag = simple_keys[i].flag;
				simple = true;
			}
		}
		ok = simple || parse_arg_key(p, w, k);
	}
	p->depth--;
	free(w);
	if (!ok) {
		skey_free(k);
		ip_fail(p->ip, "unknown search key");
		return NULL;
	}
	return k;
}

/* ---- evaluation ---- */

#define BACKFILL_MAX	(8u * 1024 * 1024)	/* field records stored per command */

/* One pass over the selected folder. */
struct srun {
	struct session *s;
	struct mi *mi;
	struct mi_fcur *fc;	/* cached header fields, in UID order */
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
	size_t nl = strlen(needle);
	if (!nl)
		return true;
	/* compare in full only where the first octet matches */
	int f = tolower((unsigned char)needle[0]);
	for (size_t i = 0; i + nl <= hl; i++)
		if (tolower((unsigned char)hay[i]) == f && !strncasecmp(hay + i, needle, nl))
			return true;
	return false;
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
	case SK_LARGER: return need_rec(c) && (int64_t)c->rec.size > k->num;
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

/* Evaluate prog on every message of the view: *idx (malloc'd) receives the
 * matching view indexes, ascending; returns how many. */
static size_t search_run(struct session *s, struct mi *mi, const struct skey *prog, size_t **idx)
{
	struct srun run = { .s = s, .mi = mi, .fc = mi_fields_open(mi) };
	size_t n = 0;
	*idx = xcalloc(s->sel->n + 1, sizeof **idx);
	for (size_t i = 0; i < s->sel->n; i++) {
		if (s->sel->m[i].gone)
			continue;
		struct msgctx c = { .run = &run, .s = s, .mi = mi, .idx = i };
		if (eval(&c, prog))
			(*idx)[n++] = i;
		if (c.have_rec)
			mi_rec_clear(&c.rec);
		mime_free(c.m);
		free(c.data);
	}
	mi_fields_close(run.fc);
	for (size_t i = 0; i < run.nbf; i++) {
		mi_fields_put(mi, run.bf[i].uid, run.bf[i].rec, run.bf[i].len);
		free(run.bf[i].rec);
	}
	free(run.bf);
	return n;
}

/* ---- the command ---- */

enum { RET_MIN = 1, RET_MAX = 2, RET_COUNT = 4, RET_ALL = 8, RET_SAVE = 16 };

static bool parse_return(struct ip *ip, unsigned *ret)
{
	*ret = 0;
	if (!ip_char(ip, '('))
		return false;
	for (int i = 0; i < 10; i++) {
		if (ip_char(ip, ')'))
			break;
		if (i && !ip_sp(ip))
			return false;
		char *a = ip_atom(ip);
		if (!a)
			return false;
		unsigned bit = !strcasecmp(a, "MIN") ? RET_MIN : !strcasecmp(a, "MAX") ? RET_MAX :
			       !strcasecmp(a, "COUNT") ? RET_COUNT : !strcasecmp(a, "ALL") ? RET_ALL :
			       !strcasecmp(a, "SAVE") ? RET_SAVE : 0;
		free(a);
		if (!bit)
			return false;
		*ret |= bit;
	}
	if (!*ret)
		*ret = RET_ALL;	/* RFC 4731: RETURN () means ALL */
	return ip_sp(ip);
}

static void compress_set(struct evbuffer *b, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		evbuffer_add_printf(b, "%s%u", i ? "," : "", v[i]);
		if (j > i)
			evbuffer_add_printf(b, ":%u", v[j]);
		i = j + 1;
	}
}

/* RETURN (SAVE ...) (RFC 5182 2.1): with MIN and/or MAX alone only those
 * are saved, else every match. hits are sequence numbers or UIDs. */
static void save_result(struct session *s, const uint32_t *hits, size_t n, unsigned ret, bool uid)
{
	struct view *v = s->sel;
	uint32_t *u = xcalloc(n + 1, sizeof *u);
	size_t k = 0;
	bool ends = (ret & (RET_MIN | RET_MAX)) && !(ret & (RET_ALL | RET_COUNT));
	for (size_t i = 0; i < n; i++) {
		if (ends && !((i == 0 && (ret & RET_MIN)) || (i == n - 1 && (ret & RET_MAX))))
			continue;
		u[k++] = uid ? hits[i] : v->m[hits[i] - 1].uid;
	}
	view_save_result(v, u, k);
	free(u);
}

/* A SEARCH with SAVE that fails leaves "$" empty (RFC 5182 2.1). */
static void forget_result(struct session *s, unsigned ret)
{
	if (ret & RET_SAVE)
		view_save_result(s->sel, NULL, 0);
}

static void reply_esearch(struct session *s, const uint32_t *hits, size_t n, unsigned ret, bool uid,
			  uint64_t modseq)
{
	struct evbuffer *b = s_buf(s);
	evbuffer_add_printf(b, "* ESEARCH (TAG \"%s\")%s", s->tag, uid ? " UID" : "");
	if (n && (ret & RET_MIN))
		evbuffer_add_printf(b, " MIN %u", hits[0]);
	if (n && (ret & RET_MAX))
		evbuffer_add_printf(b, " MAX %u", hits[n - 1]);
	if (ret & RET_COUNT)
		evbuffer_add_printf(b, " COUNT %zu", n);
	if (n && (ret & RET_ALL)) {
		evbuffer_add(b, " ALL ", 5);
		compress_set(b, hits, n);
	}
	if (n && modseq)	/* RFC 7162 3.1.5 */
		evbuffer_add_printf(b, " MODSEQ %llu", (unsigned long long)modseq);
	evbuffer_add(b, "\r\n", 2);
}

void cmd_search(struct session *s, struct ip *ip, bool uid)
{
	struct sparse p = { .ip = ip };
	char *charset = NULL;
	unsigned ret = 0;
	bool esearch = false;
	if (!ip_sp(ip))
		goto syntax;
	const char *save = ip->p;
	char *w = ip_atom(ip);
	if (w && !strcasecmp(w, "RETURN")) {
		free(w);
		if (!ip_sp(ip) || !parse_return(ip, &ret))
			goto syntax;
		esearch = true;
		save = ip->p;
		w = ip_atom(ip);
	}
	if (w && !strcasecmp(w, "CHARSET")) {
		if (!ip_sp(ip) || !(charset = ip_astring(ip, NULL)) || !ip_sp(ip)) {
			free(w);
			goto syntax;
		}
	} else {
		ip->p = save;	/* not CHARSET: re-read as a search key */
		ip->bad = false;
	}
	free(w);
	p.charset = charset;
	if (charset && strcasecmp(charset, "UTF-8") && strcasecmp(charset, "US-ASCII")) {
		char *probe = mime_to_utf8(charset, "", 0);
		if (!probe) {
			s_no(s, "[BADCHARSET (UTF-8 US-ASCII)] Unknown charset");
			free(charset);
			forget_result(s, ret);
			return;
		}
		free(probe);
	}
	struct skey *prog = parse_list(&p, false);
	if (!prog || !ip_eol(ip)) {
		skey_free(prog);
		if (p.badcharset) {
			s_no(s, "[BADCHARSET (UTF-8 US-ASCII)] Cannot convert search string");
			free(charset);
			forget_result(s, ret);
			return;
		}
		goto syntax;
	}
	struct mi *mi = view_sync(s, uid);
	if (!mi) {
		skey_free(prog);
		free(charset);
		s_no(s, "[SERVERBUG] Cannot open mailbox");
		forget_result(s, ret);
		return;
	}
	uint32_t *hits = xcalloc(s->sel->n + 1, sizeof *hits);
	size_t *idx, nh = search_run(s, mi, prog, &idx);
	uint64_t maxmod = 0;
	if (p.modseq)
		condstore_enable(s);
	for (size_t j = 0; j < nh; j++) {
		size_t i = idx[j];
		hits[j] = uid ? s->sel->m[i].uid : (uint32_t)i + 1;
		if (s->sel->m[i].modseq > maxmod)
			maxmod = s->sel->m[i].modseq;
	}
	if (esearch && nh && !(ret & (RET_ALL | RET_COUNT)) && (ret & (RET_MIN | RET_MAX))) {
		/* RFC 7162 3.1.5: the highest MODSEQ of the messages returned,
		 * here only the first and/or the last */
		uint64_t lo = s->sel->m[idx[0]].modseq, hi = s->sel->m[idx[nh - 1]].modseq;
		maxmod = 0;
		if ((ret & RET_MIN) && lo > maxmod)
			maxmod = lo;
		if ((ret & RET_MAX) && hi > maxmod)
			maxmod = hi;
	}
	free(idx);
	mi_close(mi);
	if (ret & RET_SAVE)
		save_result(s, hits, nh, ret, uid);
	if (ret == RET_SAVE) {
		/* SAVE alone: no ESEARCH response (RFC 5182 2.1) */
	} else if (esearch || s->rev2) {
		/* RFC 9051 6.4.4: IMAP4rev2 answers every SEARCH with ESEARCH */
		reply_esearch(s, hits, nh, esearch ? ret : RET_ALL, uid, p.modseq ? maxmod : 0);
	} else {
		struct evbuffer *b = s_buf(s);
		evbuffer_add(b, "* SEARCH", 8);
		for (size_t i = 0; i < nh; i++)
			evbuffer_add_printf(b, " %u", hits[i]);
		if (p.modseq && nh)
			evbuffer_add_printf(b, " (MODSEQ %llu)", (unsigned long long)maxmod);
		evbuffer_add(b, "\r\n", 2);
	}
	free(hits);
	skey_free(prog);
	free(charset);
	s_ok(s, "SEARCH completed");
	return;
syntax:
	free(charset);
	forget_result(s, ret);
	s_bad(s, "Syntax error in SEARCH: %s", ip->why ? ip->why : "unexpected input");
}

/* ---- shared with SORT and THREAD (cmd_sort.c) ---- */

int search_select(struct session *s, struct ip *ip, const char *charset, struct mi **mi_out,
		  size_t **idx, size_t *n)
{
	struct sparse p = { .ip = ip, .charset = charset };
	struct skey *prog = parse_list(&p, false);
	if (!prog || !ip_eol(ip)) {
		skey_free(prog);
		return p.badcharset ? -2 : -1;
	}
	struct mi *mi = view_sync(s, true);
	if (!mi) {
		skey_free(prog);
		return -3;
	}
	*n = search_run(s, mi, prog, idx);
	skey_free(prog);
	*mi_out = mi;
	return 0;
}
