/* search_parse.c — the search program of SEARCH, SORT and THREAD: every
 * RFC 3501 key, CHARSET conversion of its strings (iconv), MODSEQ (RFC 7162),
 * "$" (RFC 5182); bounded in keys (SEARCH_MAX_KEYS) and nesting. Also the
 * rest of their grammar a client sends: RETURN options, SORT criteria
 * (sortkeys.h) and CANCELUPDATE's tags (search_update.h), all here so the
 * fuzzer (tests/fuzz/fuzz_imap.c) reaches them without a session. */
#include "imapd/search.h"
#include "imapd/search_update.h"
#include "imapd/sortkeys.h"
#include "common/mailindex.h"
#include "common/mime.h"
#include "common/util.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* what an RFC 8474 objectid is made of */
#define OBJECTID_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

struct sparse {
	struct ip *ip;
	const char *charset;
	int nkeys, depth;
	bool badcharset;
	bool modseq;		/* a MODSEQ key was used: report the highest */
};

void skey_free(struct skey *k)
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
	{ "RECENT", SK_RECENT, 0 }, { "SAVEDATESUPPORTED", SK_SAVEDATESUPPORTED, 0 },
};

static const struct {
	const char *name;
	enum sk kind;
} date_keys[] = {
	{ "BEFORE", SK_BEFORE }, { "ON", SK_ON }, { "SINCE", SK_SINCE },
	{ "SENTBEFORE", SK_SENTBEFORE }, { "SENTON", SK_SENTON }, { "SENTSINCE", SK_SENTSINCE },
	{ "SAVEDBEFORE", SK_SAVEDBEFORE }, { "SAVEDON", SK_SAVEDON }, { "SAVEDSINCE", SK_SAVEDSINCE },
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
	if (!strcasecmp(w, "OLDER") || !strcasecmp(w, "YOUNGER")) {
		/* WITHIN (RFC 5032): an interval in seconds back from now */
		uint64_t n;
		k->kind = toupper((unsigned char)w[0]) == 'O' ? SK_OLDER : SK_YOUNGER;
		if (!ip_sp(p->ip) || !ip_number(p->ip, UINT32_MAX, &n) || !n)
			return false;
		k->num = (int64_t)time(NULL) - (int64_t)n;
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
	if (!strcasecmp(w, "EMAILID") || !strcasecmp(w, "THREADID")) {
		/* RFC 8474 objectid: 1*255 of A-Za-z0-9_- (an atom) */
		k->kind = toupper((unsigned char)w[0]) == 'E' ? SK_EMAILID : SK_THREADID;
		return ip_sp(p->ip) && (k->str = ip_atom(p->ip)) != NULL && strlen(k->str) <= 255 &&
		       strspn(k->str, OBJECTID_CHARS) == strlen(k->str);
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

struct skey *search_parse(struct ip *ip, const char *charset, bool *badcharset, bool *modseq)
{
	struct sparse p = { .ip = ip, .charset = charset };
	struct skey *prog = parse_list(&p, false);
	if (prog && !ip_eol(ip)) {
		skey_free(prog);
		prog = NULL;
	}
	*badcharset = p.badcharset;
	*modseq = p.modseq;
	return prog;
}

/* ---- RETURN options ---- */

/* An nz-number (1..4294967295) at *p, advanced past it; 0 when none. */
static uint32_t nz_number(const char **p)
{
	uint64_t v = 0;
	const char *q = *p;
	while (isdigit((unsigned char)*q) && v <= UINT32_MAX)
		v = v * 10 + (uint64_t)(*q++ - '0');
	if (q == *p || v > UINT32_MAX || isdigit((unsigned char)*q))
		return 0;
	*p = q;
	return (uint32_t)v;
}

/* partial-range = nz-number ":" nz-number (RFC 5267 4.4), either order. */
static bool parse_partial(struct ip *ip, struct search_ret *r)
{
	char *a = ip_sp(ip) ? ip_atom(ip) : NULL;
	const char *p = a;
	uint32_t lo = a ? nz_number(&p) : 0, hi = 0;
	if (lo && *p == ':') {
		p++;
		hi = nz_number(&p);
	}
	bool ok = hi && *p == '\0';
	free(a);
	r->plo = lo < hi ? lo : hi;
	r->phi = lo < hi ? hi : lo;
	return ok;
}

static const struct {
	const char *name;
	unsigned bit;
} ret_names[] = {
	{ "MIN", RET_MIN }, { "MAX", RET_MAX }, { "COUNT", RET_COUNT }, { "ALL", RET_ALL },
	{ "SAVE", RET_SAVE }, { "PARTIAL", RET_PARTIAL }, { "UPDATE", RET_UPDATE }, { "CONTEXT", 0 },
};

bool search_parse_return(struct ip *ip, struct search_ret *r)
{
	memset(r, 0, sizeof *r);
	r->esearch = true;
	if (!ip_char(ip, '('))
		return false;
	for (int i = 0; !ip_char(ip, ')'); i++) {
		if (i >= 16 || (i && !ip_sp(ip)))
			return false;
		char *a = ip_atom(ip);
		size_t k = 0;
		while (a && k < ARRAY_LEN(ret_names) && strcasecmp(a, ret_names[k].name))
			k++;
		free(a);
		if (k == ARRAY_LEN(ret_names) || (r->opts & ret_names[k].bit))
			return false;	/* unknown or repeated */
		r->opts |= ret_names[k].bit;
		if (ret_names[k].bit == RET_PARTIAL && !parse_partial(ip, r))
			return false;
	}
	if ((r->opts & RET_PARTIAL) && (r->opts & RET_ALL))
		return false;	/* PARTIAL asks for a part of what ALL gives */
	if (!r->opts)
		r->opts = RET_ALL;	/* RFC 4731: RETURN () means ALL (CONTEXT is a hint) */
	/* UPDATE alone asks for no data now (RFC 5267 4.3, as Dovecot reads it) */
	return ip_sp(ip);
}

bool sort_parse_criteria(struct ip *ip, struct sort_program *p)
{
	struct sort_key *keys = p->k;
	size_t *n = &p->n;
	static const struct { const char *name; enum sort_crit c; } names[] = {
		{ "ARRIVAL", SC_ARRIVAL }, { "CC", SC_CC }, { "DATE", SC_DATE }, { "FROM", SC_FROM },
		{ "SIZE", SC_SIZE }, { "SUBJECT", SC_SUBJECT }, { "TO", SC_TO },
		{ "DISPLAYFROM", SC_DISPLAYFROM }, { "DISPLAYTO", SC_DISPLAYTO },
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
			keys[(*n)++] = (struct sort_key){ names[k].c, reverse };
			found = true;
		}
		free(a);
		if (!found)
			return false;
		reverse = false;
	}
	return false;
}

size_t cancelupdate_parse(struct ip *ip, char **tags)
{
	size_t n = 0;
	while (!ip_eol(ip)) {
		char *tag = NULL;
		if (n == CANCELUPDATE_MAX_TAGS || !ip_sp(ip) || !ip_peek(ip, '"') || !(tag = ip_string(ip, NULL))) {
			free(tag);
			while (n)
				free(tags[--n]);
			return 0;
		}
		tags[n++] = tag;
	}
	return n;
}
