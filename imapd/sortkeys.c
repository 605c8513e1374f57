/* sortkeys.c — the sort keys of a message (sortkeys.h): base subject
 * (RFC 5256 2.1), first address's mailbox, display name (RFC 5957), sent date,
 * size, arrival; read from the first SORT_HEADER_MAX octets of the file. */
#include "imapd/sortkeys.h"
#include "imapd/casefold.h"
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
#include <time.h>
#include <unistd.h>

#define SORT_HEADER_MAX (64 * 1024)

/* ---- keys ---- */

/* *s as its i;unicode-casemap key (RFC 5051, casefold.h): SORT and THREAD
 * compare keys octet by octet, as I18NLEVEL=1 asks. ASCII only needs its
 * upper case, which is the same key made faster. */
static void casemap(char **s)
{
	bool ascii = true;
	for (char *p = *s; *p; p++) {
		*p = (char)toupper((unsigned char)*p);
		ascii = ascii && (unsigned char)*p < 0x80;
	}
	size_t n;
	char *t = ascii ? NULL : casemap_title_utf8(*s, strlen(*s), &n);
	if (t) {
		free(*s);
		*s = t;
	}
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

/* RFC 5256 2.1 base subject as an i;unicode-casemap key (upper case for
 * ASCII, so "A" < "_" as under i;ascii-casemap). *refwd tells
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
	casemap(&r);
	return r;
}

/* A part the address parser filled in stands for nothing. */
static bool filled_in(const char *part, const char *placeholder)
{
	return !part || !strcmp(part, placeholder);
}

/* The sort key of an address header (mime_addr.h) as an i;unicode-casemap
 * key: the first address's mailbox (RFC 5256 2.2; a group's
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
	casemap(&r);
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

void sortrec_fill(struct sortrec *r, struct session *s, struct mi *mi, size_t idx)
{
	memset(r, 0, sizeof *r);
	r->idx = idx;
	r->uid = s->sel->m[idx].uid;
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

void sortrec_clear(struct sortrec *r)
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

int sortrec_cmp1(const struct sortrec *a, const struct sortrec *b, enum sort_crit c)
{
	switch (c) {
	case SC_ARRIVAL: return (a->arrival > b->arrival) - (a->arrival < b->arrival);
	case SC_DATE: return (a->date > b->date) - (a->date < b->date);
	case SC_SIZE: return (a->size > b->size) - (a->size < b->size);
	case SC_SUBJECT: return strcmp(a->subject, b->subject);
	case SC_FROM: return strcmp(a->from, b->from);
	case SC_TO: return strcmp(a->to, b->to);
	case SC_CC: return strcmp(a->cc, b->cc);
	case SC_DISPLAYFROM: return strcmp(a->dfrom, b->dfrom);
	case SC_DISPLAYTO: return strcmp(a->dto, b->dto);
	}
	return 0;
}

int sortrec_cmp(const struct sort_program *p, const struct sortrec *a, const struct sortrec *b)
{
	for (size_t i = 0; i < p->n; i++) {
		int r = sortrec_cmp1(a, b, p->k[i].c);
		if (r)
			return p->k[i].reverse ? -r : r;
	}
	return (a->uid > b->uid) - (a->uid < b->uid);
}

