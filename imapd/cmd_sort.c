/* cmd_sort.c — SORT (RFC 5256, with SORT=DISPLAY of RFC 5957) and
 * THREAD=ORDEREDSUBJECT, on top of the SEARCH evaluator. */
#include "imapd/search.h"
#include "imapd/thread.h"
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

#define SORT_MAX_CRITERIA 16
#define SORT_HEADER_MAX (64 * 1024)

enum crit { C_ARRIVAL, C_CC, C_DATE, C_FROM, C_SIZE, C_SUBJECT, C_TO, C_DISPLAYFROM, C_DISPLAYTO };

struct sortkey {
	enum crit c;
	bool reverse;
};

struct sortrec {
	size_t idx;
	int64_t arrival, date;
	uint64_t size;
	char *subject, *from, *to, *cc, *dfrom, *dto;
	char *msgid, *refs, *irt;	/* Message-ID, References, In-Reply-To */
	bool reply;		/* the subject had Re:/Fwd: or a (fwd) trailer */
};

/* ---- keys ---- */

static void upper(char *s)
{
	for (; *s; s++)
		*s = (char)toupper((unsigned char)*s);
}

/* Tabs and line breaks become spaces, runs of spaces one (RFC 5256 2.1 step 1). */
static void collapse_ws(char *s)
{
	char *o = s;
	bool sp = false;
	for (char *p = s; *p; p++) {
		bool w = *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n';
		if (w && sp)
			continue;
		*o++ = w ? ' ' : *p;
		sp = w;
	}
	*o = '\0';
}

/* subj-blob = "[" *BLOBCHAR "]" *WSP: the text after it, or NULL. */
static char *after_blob(char *s)
{
	if (*s != '[')
		return NULL;
	size_t n = strcspn(s + 1, "[]");
	if (s[1 + n] != ']')
		return NULL;
	char *e = s + n + 2;
	while (*e == ' ')
		e++;
	return e;
}

/* subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":": the text after it, or NULL. */
static char *after_refwd(char *s)
{
	size_t pre = !strncasecmp(s, "re", 2) ? 2 : !strncasecmp(s, "fwd", 3) ? 3 :
		     !strncasecmp(s, "fw", 2) ? 2 : 0;
	if (!pre)
		return NULL;
	char *q = s + pre;
	while (*q == ' ')
		q++;
	char *b = after_blob(q);
	if (b)
		q = b;
	return *q == ':' ? q + 1 : NULL;
}

/* Steps 2: trailing "(fwd)" and spaces; true if a "(fwd)" went. */
static bool strip_trailers(char *s)
{
	bool fwd = false;
	for (size_t n = strlen(s); n;) {
		if (s[n - 1] == ' ') {
			s[--n] = '\0';
		} else if (n >= 5 && !strcasecmp(s + n - 5, "(fwd)")) {
			s[n -= 5] = '\0';
			fwd = true;
		} else {
			break;
		}
	}
	return fwd;
}

/* Steps 3 to 5: leading spaces, subj-leader (*subj-blob subj-refwd), and a
 * subj-blob when text remains after it. */
static char *strip_leaders(char *s, bool *refwd)
{
	for (;;) {
		if (*s == ' ') {
			s++;
			continue;
		}
		char *q = s, *b;
		while ((b = after_blob(q)) != NULL)
			q = b;
		char *r = after_refwd(q);
		if (r) {
			s = r;
			*refwd = true;
			continue;
		}
		b = after_blob(s);
		if (b && *b) {
			s = b;
			continue;
		}
		return s;
	}
}

/* RFC 5256 2.1 base subject, upper-cased (SORT compares with
 * i;ascii-casemap, which compares upper case: "A" < "_"). *refwd tells
 * whether a reply or forward marker went (THREAD=REFERENCES step 5). */
static char *base_subject(const char *raw, bool *refwd)
{
	char *d = mime_decode_words(raw ? raw : "");
	collapse_ws(d);
	char *s = d;
	*refwd = false;
	for (int guard = 0; guard < 1000; guard++) {
		if (strip_trailers(s))
			*refwd = true;
		s = strip_leaders(s, refwd);
		size_t n = strlen(s);
		if (n < 6 || strncasecmp(s, "[fwd:", 5) || s[n - 1] != ']')
			break;
		s[n - 1] = '\0';	/* step 6: subj-fwd-hdr and subj-fwd-trl */
		s += 5;
		*refwd = true;
	}
	char *r = xstrdup(s);
	free(d);
	upper(r);
	return r;
}

/* A part the address parser filled in stands for nothing. */
static bool filled_in(const char *part, const char *placeholder)
{
	return !part || !strcmp(part, placeholder);
}

/* The sort key of an address header (mime_addr.h), upper-cased
 * (i;ascii-casemap): the first address's mailbox (RFC 5256 2.2; a group's
 * name when the list starts with a group), or for DISPLAYFROM/DISPLAYTO
 * (RFC 5957) its decoded display name, else its addr-spec. */
static char *addr_key(const char *v, bool display)
{
	struct mime_addr *a;
	size_t n = mime_addr_parse(v ? v : "", &a);
	char *r;
	if (!n || filled_in(a->mailbox, MIME_ADDR_NO_MAILBOX))
		r = xstrdup("");
	else if (display && a->name && *a->name)
		r = mime_decode_words(a->name);
	else if (display && !filled_in(a->host, MIME_ADDR_NO_HOST))
		r = xasprintf("%s@%s", a->mailbox, a->host);
	else
		r = xstrdup(a->mailbox);
	mime_addr_free(a, n);
	upper(r);
	return r;
}

/* RFC 5322 date-time to epoch seconds, or -1. */
static int64_t parse_date(const char *v)
{
	static const char *const mon[] = { "jan", "feb", "mar", "apr", "may", "jun",
					   "jul", "aug", "sep", "oct", "nov", "dec" };
	if (!v)
		return -1;
	const char *p = strchr(v, ',') ? strchr(v, ',') + 1 : v;
	int day, year, hh = 0, mm = 0, ss = 0;
	char ms[4] = "", zone[8] = "+0000";
	int got = sscanf(p, " %d %3s %d %d:%d:%d %7s", &day, ms, &year, &hh, &mm, &ss, zone);
	if (got < 5) {
		ss = 0;
		got = sscanf(p, " %d %3s %d %d:%d %7s", &day, ms, &year, &hh, &mm, zone);
		if (got < 3)
			return -1;
	}
	int m = -1;
	for (int i = 0; i < 12; i++)
		if (!strcasecmp(ms, mon[i]))
			m = i;
	if (m < 0)
		return -1;
	if (year < 100)
		year += year < 50 ? 2000 : 1900;
	struct tm tm = { .tm_mday = day, .tm_mon = m, .tm_year = year - 1900,
			 .tm_hour = hh, .tm_min = mm, .tm_sec = ss };
	int64_t t = (int64_t)timegm(&tm);
	if ((zone[0] == '+' || zone[0] == '-') && strlen(zone) >= 5) {
		int off = ((zone[1] - '0') * 10 + (zone[2] - '0')) * 3600 +
			  ((zone[3] - '0') * 10 + (zone[4] - '0')) * 60;
		t += zone[0] == '+' ? -off : off;
	}
	return t;
}

static char *read_header(struct mi *mi, const struct mi_rec *rec, size_t *len)
{
	char *path = mi_path(mi, rec);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(path);
	if (fd < 0)
		return NULL;
	char *buf = xmalloc(SORT_HEADER_MAX + 1);
	ssize_t n = read(fd, buf, SORT_HEADER_MAX);
	close(fd);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	char *crlf = mime_to_crlf(buf, (size_t)n, len);
	free(buf);
	/* the header ends at the first empty line */
	char *e = strstr(crlf, "\r\n\r\n");
	if (e)
		*len = (size_t)(e - crlf) + 2;
	return crlf;
}

static void fill(struct sortrec *r, struct session *s, struct mi *mi, size_t idx)
{
	memset(r, 0, sizeof *r);
	r->idx = idx;
	struct mi_rec rec;
	size_t hl = 0;
	char *h = NULL;
	if (mi_get(mi, s->sel->m[idx].uid, &rec) == 1) {
		r->size = rec.size;
		r->arrival = rec.idate;	/* ARRIVAL is the INTERNALDATE (RFC 5256) */
		r->date = rec.idate;	/* the sent date, when Date is missing or bad */
		h = read_header(mi, &rec, &hl);
		mi_rec_clear(&rec);
	}
	char *subj = h ? mime_header_get(h, hl, "subject") : NULL;
	char *from = h ? mime_header_get(h, hl, "from") : NULL;
	char *to = h ? mime_header_get(h, hl, "to") : NULL;
	char *cc = h ? mime_header_get(h, hl, "cc") : NULL;
	char *date = h ? mime_header_get(h, hl, "date") : NULL;
	int64_t sent = parse_date(date);
	if (sent >= 0)
		r->date = sent;
	r->subject = base_subject(subj, &r->reply);
	r->msgid = h ? mime_header_get(h, hl, "message-id") : NULL;
	r->refs = h ? mime_header_get(h, hl, "references") : NULL;
	r->irt = h ? mime_header_get(h, hl, "in-reply-to") : NULL;
	r->from = addr_key(from, false);
	r->to = addr_key(to, false);
	r->cc = addr_key(cc, false);
	r->dfrom = addr_key(from, true);
	r->dto = addr_key(to, true);
	free(subj);
	free(from);
	free(to);
	free(cc);
	free(date);
	free(h);
}

static void clear(struct sortrec *r)
{
	free(r->msgid);
	free(r->refs);
	free(r->irt);
	free(r->subject);
	free(r->from);
	free(r->to);
	free(r->cc);
	free(r->dfrom);
	free(r->dto);
}

/* ---- SORT ---- */

static const struct sortkey *g_keys;
static size_t g_nkeys;

static int cmp_one(const struct sortrec *a, const struct sortrec *b, enum crit c)
{
	switch (c) {
	case C_ARRIVAL: return (a->arrival > b->arrival) - (a->arrival < b->arrival);
	case C_DATE: return (a->date > b->date) - (a->date < b->date);
	case C_SIZE: return (a->size > b->size) - (a->size < b->size);
	case C_SUBJECT: return strcmp(a->subject, b->subject);
	case C_FROM: return strcmp(a->from, b->from);
	case C_TO: return strcmp(a->to, b->to);
	case C_CC: return strcmp(a->cc, b->cc);
	case C_DISPLAYFROM: return strcmp(a->dfrom, b->dfrom);
	case C_DISPLAYTO: return strcmp(a->dto, b->dto);
	}
	return 0;
}

static int cmp_sort(const void *x, const void *y)
{
	const struct sortrec *a = x, *b = y;
	for (size_t i = 0; i < g_nkeys; i++) {
		int r = cmp_one(a, b, g_keys[i].c);
		if (r)
			return g_keys[i].reverse ? -r : r;
	}
	return (a->idx > b->idx) - (a->idx < b->idx);	/* RFC 5256: then by sequence */
}

static bool parse_criteria(struct ip *ip, struct sortkey *keys, size_t *n)
{
	static const struct { const char *name; enum crit c; } names[] = {
		{ "ARRIVAL", C_ARRIVAL }, { "CC", C_CC }, { "DATE", C_DATE }, { "FROM", C_FROM },
		{ "SIZE", C_SIZE }, { "SUBJECT", C_SUBJECT }, { "TO", C_TO },
		{ "DISPLAYFROM", C_DISPLAYFROM }, { "DISPLAYTO", C_DISPLAYTO },
	};
	*n = 0;
	if (!ip_char(ip, '('))
		return false;
	bool reverse = false;
	for (int i = 0; i < 2 * SORT_MAX_CRITERIA; i++) {
		if (i && ip_char(ip, ')'))
			return *n > 0 && !reverse;
		if (i && !ip_sp(ip))
			return false;
		char *a = ip_atom(ip);
		if (!a)
			return false;
		if (!strcasecmp(a, "REVERSE")) {
			free(a);
			if (reverse)
				return false;
			reverse = true;
			continue;
		}
		bool found = false;
		for (size_t k = 0; k < ARRAY_LEN(names) && !found; k++) {
			if (strcasecmp(a, names[k].name) || *n >= SORT_MAX_CRITERIA)
				continue;
			keys[(*n)++] = (struct sortkey){ names[k].c, reverse };
			found = true;
		}
		free(a);
		if (!found)
			return false;
		reverse = false;
	}
	return false;
}

/* Run the search part; replies on failure. NULL-free result on success. */
static struct sortrec *select_and_fill(struct session *s, struct ip *ip, size_t *n)
{
	char *charset = NULL;
	if (!ip_sp(ip) || !(charset = ip_astring(ip, NULL)) || !ip_sp(ip)) {
		free(charset);
		s_bad(s, "Syntax: missing charset or search criteria");
		return NULL;
	}
	struct mi *mi;
	size_t *idx;
	int r = search_select(s, ip, charset, &mi, &idx, n);
	free(charset);
	if (r == -1)
		s_bad(s, "Syntax error in search criteria: %s", ip->why ? ip->why : "unexpected input");
	else if (r == -2)
		s_no(s, "[BADCHARSET (UTF-8 US-ASCII)] Unknown charset");
	else if (r < 0)
		s_no(s, "[SERVERBUG] Cannot open mailbox");
	if (r < 0)
		return NULL;
	struct sortrec *recs = xcalloc(*n + 1, sizeof *recs);
	for (size_t i = 0; i < *n; i++)
		fill(&recs[i], s, mi, idx[i]);
	free(idx);
	mi_close(mi);
	return recs;
}

static uint32_t number(struct session *s, size_t idx, bool uid)
{
	return uid ? s->sel->m[idx].uid : (uint32_t)idx + 1;
}

/* "RETURN (...) " before the criteria (ESORT, RFC 5267 3), when present. */
static bool sort_return(struct ip *ip, struct search_ret *r)
{
	const char *at = ip->p;
	char *w = ip_atom(ip);
	bool given = w && !strcasecmp(w, "RETURN");
	free(w);
	if (given)
		return ip_sp(ip) && search_parse_return(ip, r);
	ip->p = at;
	ip->bad = false;
	return true;
}

void cmd_sort(struct session *s, struct ip *ip, bool uid)
{
	struct sortkey keys[SORT_MAX_CRITERIA];
	struct search_ret ret = { .opts = RET_ALL };
	size_t nkeys, n;
	if (!ip_sp(ip) || !sort_return(ip, &ret) || !parse_criteria(ip, keys, &nkeys)) {
		search_forget_result(s, &ret);
		s_bad(s, "Syntax: SORT [RETURN (options)] (criteria) charset search-criteria");
		return;
	}
	struct sortrec *recs = select_and_fill(s, ip, &n);
	if (!recs) {
		search_forget_result(s, &ret);
		return;
	}
	g_keys = keys;
	g_nkeys = nkeys;
	qsort(recs, n, sizeof *recs, cmp_sort);
	uint32_t *hits = xcalloc(n + 1, sizeof *hits);
	for (size_t i = 0; i < n; i++) {
		hits[i] = number(s, recs[i].idx, uid);
		clear(&recs[i]);
	}
	free(recs);
	if (ret.opts & RET_SAVE)
		search_save_result(s, hits, n, ret.opts, uid);
	if (ret.esearch && ret.opts != RET_SAVE) {
		search_reply_esearch(s, hits, n, &ret, uid, 0);
	} else if (!ret.esearch) {
		struct evbuffer *b = s_buf(s);
		evbuffer_add(b, "* SORT", 6);
		for (size_t i = 0; i < n; i++)
			evbuffer_add_printf(b, " %u", hits[i]);
		evbuffer_add(b, "\r\n", 2);
	}
	free(hits);
	s_ok(s, "SORT completed");
}

/* ---- THREAD=ORDEREDSUBJECT ---- */

static const enum crit subj_date[] = { C_SUBJECT, C_DATE };

static int cmp_subject_date(const void *x, const void *y)
{
	const struct sortrec *a = x, *b = y;
	for (size_t i = 0; i < ARRAY_LEN(subj_date); i++) {
		int r = cmp_one(a, b, subj_date[i]);
		if (r)
			return r;
	}
	return (a->idx > b->idx) - (a->idx < b->idx);
}

struct thread {
	size_t first, count;	/* range in the subject-sorted array */
};

static const struct sortrec *g_recs;

static int cmp_thread(const void *x, const void *y)
{
	const struct thread *a = x, *b = y;
	/* RFC 5256: by the sent date of the first message, then by sequence */
	const struct sortrec *ra = &g_recs[a->first], *rb = &g_recs[b->first];
	int r = cmp_one(ra, rb, C_DATE);
	return r ? r : (ra->idx > rb->idx) - (ra->idx < rb->idx);
}

void cmd_thread(struct session *s, struct ip *ip, bool uid)
{
	char *alg = NULL;
	size_t n;
	if (!ip_sp(ip) || !(alg = ip_atom(ip))) {
		s_bad(s, "Syntax: THREAD algorithm charset search-criteria");
		return;
	}
	bool references = !strcasecmp(alg, "REFERENCES");
	if (strcasecmp(alg, "ORDEREDSUBJECT") && !references) {
		free(alg);
		s_bad(s, "Unsupported threading algorithm");
		return;
	}
	free(alg);
	if (references) {
		struct sortrec *recs = select_and_fill(s, ip, &n);
		if (!recs)
			return;
		struct thread_msg *tm = xcalloc(n + 1, sizeof *tm);
		for (size_t i = 0; i < n; i++)
			tm[i] = (struct thread_msg){ recs[i].msgid, recs[i].refs, recs[i].subject,
						     recs[i].date, recs[i].reply,
						     number(s, recs[i].idx, uid), recs[i].irt };
		thread_references(s_buf(s), tm, n);
		free(tm);
		for (size_t i = 0; i < n; i++)
			clear(&recs[i]);
		free(recs);
		s_ok(s, "THREAD completed");
		return;
	}
	struct sortrec *recs = select_and_fill(s, ip, &n);
	if (!recs)
		return;
	qsort(recs, n, sizeof *recs, cmp_subject_date);
	struct thread *th = xcalloc(n + 1, sizeof *th);
	size_t nt = 0;
	for (size_t i = 0; i < n; i++) {
		if (i && !strcmp(recs[i].subject, recs[i - 1].subject)) {
			th[nt - 1].count++;
			continue;
		}
		th[nt++] = (struct thread){ i, 1 };
	}
	g_recs = recs;
	qsort(th, nt, sizeof *th, cmp_thread);
	struct evbuffer *b = s_buf(s);
	evbuffer_add(b, "* THREAD ", 9);
	for (size_t t = 0; t < nt; t++) {
		const struct thread *x = &th[t];
		evbuffer_add_printf(b, "(%u", number(s, recs[x->first].idx, uid));
		if (x->count == 2)
			evbuffer_add_printf(b, " %u", number(s, recs[x->first + 1].idx, uid));
		else
			for (size_t k = 1; k < x->count; k++)
				evbuffer_add_printf(b, "%s(%u)", k == 1 ? " " : "",
						    number(s, recs[x->first + k].idx, uid));
		evbuffer_add(b, ")", 1);
	}
	evbuffer_add(b, "\r\n", 2);
	for (size_t i = 0; i < n; i++)
		clear(&recs[i]);
	free(recs);
	free(th);
	s_ok(s, "THREAD completed");
}
