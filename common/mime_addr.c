/* mime_addr.c — RFC 5322 address-list parsing (see mime_addr.h).
 *
 * A recursive-descent reader over the NUL-terminated value, lenient where the
 * obsolete syntax of RFC 5322 4.4 allows (comments and folding anywhere,
 * routes, dots with spaces around them, empty list elements). Every loop
 * advances the cursor or ends, so hostile input costs time linear in its
 * length; the number of entries is capped at MIME_ADDR_MAX. */
#include "common/mime_addr.h"
#include "common/strbuf.h"
#include "common/util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The text so far (malloc'd, "" when empty); b is emptied. */
static char *sb_take(struct strbuf *b)
{
	char *r = xstrndup(b->p ? b->p : "", b->len);
	b->len = 0;
	return r;
}

struct lex {
	const char *p;
	struct strbuf comment;	/* text of the last comment skipped */
	struct mime_addr *v;
	size_t n;
};

/* RFC 5322 specials plus controls and space; bytes of 0x80 and above are
 * text (RFC 6532 allows UTF-8 in headers). */
static bool is_atext(char c)
{
	unsigned char u = (unsigned char)c;
	return u > ' ' && u != 0x7f && !strchr("()<>[]:;@\\,.\"", c);
}

/* A comment at lx->p ('('), nested ones included; its text replaces the last one. */
static void skip_comment(struct lex *lx)
{
	int depth = 0;
	lx->comment.len = 0;
	do {
		char c = *lx->p;
		if (c == '\\' && lx->p[1]) {
			strbuf_addc(&lx->comment, lx->p[1]);
			lx->p += 2;
			continue;
		}
		depth += c == '(' ? 1 : c == ')' ? -1 : 0;
		if ((c != '(' || depth > 1) && (c != ')' || depth > 0))
			strbuf_addc(&lx->comment, c);
		lx->p++;
	} while (*lx->p && depth > 0);
	/* trimmed: "( Real Name )" names "Real Name" */
	while (lx->comment.len && lx->comment.p[lx->comment.len - 1] == ' ')
		lx->comment.p[--lx->comment.len] = '\0';
	size_t lead = 0;
	while (lead < lx->comment.len && lx->comment.p[lead] == ' ')
		lead++;
	if (lead) {	/* (an empty comment "()" has no buffer at all) */
		memmove(lx->comment.p, lx->comment.p + lead, lx->comment.len - lead + 1);
		lx->comment.len -= lead;
	}
}

/* Folding white space and comments (CFWS). */
static void skip_cfws(struct lex *lx)
{
	for (;;) {
		while (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r' || *lx->p == '\n')
			lx->p++;
		if (*lx->p != '(')
			return;
		skip_comment(lx);
	}
}

/* A quoted string at lx->p ('"'), its content unescaped into out. */
static void read_quoted(struct lex *lx, struct strbuf *out)
{
	lx->p++;
	while (*lx->p && *lx->p != '"') {
		if (*lx->p == '\\' && lx->p[1])
			lx->p++;
		if (*lx->p != '\r' && *lx->p != '\n')
			strbuf_addc(out, *lx->p);
		lx->p++;
	}
	if (*lx->p == '"')
		lx->p++;
}

/* A run of atext (and dots when dots). */
static size_t read_atom(struct lex *lx, struct strbuf *out, bool dots)
{
	const char *w = lx->p;
	while (is_atext(*lx->p) || (dots && *lx->p == '.'))
		lx->p++;
	strbuf_add(out, w, (size_t)(lx->p - w));
	return (size_t)(lx->p - w);
}

/* phrase / obs-phrase: words and dots, joined by single spaces. Returns the
 * number of words read. */
static int read_phrase(struct lex *lx, struct strbuf *out)
{
	int words = 0;
	for (;;) {
		skip_cfws(lx);
		if (*lx->p != '"' && !is_atext(*lx->p) && *lx->p != '.')
			return words;
		if (words++)
			strbuf_addc(out, ' ');
		if (*lx->p == '"')
			read_quoted(lx, out);
		else
			read_atom(lx, out, true);
	}
}

static bool is_dot_atom(const char *s)
{
	if (!*s || *s == '.')
		return false;
	for (; *s; s++)
		if (!is_atext(*s) && !(*s == '.' && s[1] && s[1] != '.'))
			return false;
	return true;
}

/* local-part / obs-local-part: words separated by dots (CFWS around them).
 * A quoted local part keeps its quotes only when it needs them. */
static char *read_local(struct lex *lx)
{
	struct strbuf b = { 0 };
	bool quoted = false, any = false;
	for (;;) {
		skip_cfws(lx);
		if (*lx->p == '"') {
			read_quoted(lx, &b);
			quoted = any = true;
		} else if (read_atom(lx, &b, false)) {
			any = true;
		}
		skip_cfws(lx);
		if (*lx->p != '.')
			break;
		strbuf_addc(&b, '.');
		lx->p++;
	}
	char *s = sb_take(&b);
	free(b.p);
	if (!any) {
		free(s);
		return NULL;
	}
	if (!quoted || is_dot_atom(s))
		return s;
	struct strbuf q = { 0 };
	strbuf_addc(&q, '"');
	for (const char *c = s; *c; c++) {
		if (*c == '"' || *c == '\\')
			strbuf_addc(&q, '\\');
		strbuf_addc(&q, *c);
	}
	strbuf_addc(&q, '"');
	free(s);
	return q.p;
}

/* domain / obs-domain: dot-atoms with CFWS around the dots, or a literal. */
static char *read_domain(struct lex *lx)
{
	struct strbuf b = { 0 };
	skip_cfws(lx);
	if (*lx->p == '[') {
		while (*lx->p && *lx->p != ']') {
			if (*lx->p == '\\' && lx->p[1])
				lx->p++;
			if (*lx->p != ' ' && *lx->p != '\t')
				strbuf_addc(&b, *lx->p);
			lx->p++;
		}
		if (*lx->p == ']')
			lx->p++;
		strbuf_addc(&b, ']');
	} else {
		for (;;) {
			read_atom(lx, &b, false);
			skip_cfws(lx);
			if (*lx->p != '.')
				break;
			strbuf_addc(&b, '.');
			lx->p++;
			skip_cfws(lx);
		}
	}
	char *s = sb_take(&b);
	free(b.p);
	if (!*s) {
		free(s);
		return NULL;
	}
	return s;
}

static void add(struct lex *lx, char *name, char *route, char *mailbox, char *host)
{
	if (lx->n >= MIME_ADDR_MAX) {
		free(name);
		free(route);
		free(mailbox);
		free(host);
		return;
	}
	lx->v = xrealloc(lx->v, (lx->n + 1) * sizeof *lx->v);
	lx->v[lx->n++] = (struct mime_addr){ name, route, mailbox, host };
}

/* A mailbox entry, filling in what is missing. */
static void add_mailbox(struct lex *lx, char *name, char *route, char *mailbox, char *host)
{
	if (name && !*name) {
		free(name);
		name = NULL;
	}
	add(lx, name, route, mailbox ? mailbox : xstrdup(MIME_ADDR_NO_MAILBOX),
	    host ? host : xstrdup(MIME_ADDR_NO_HOST));
}

/* local-part ["@" domain] into *mailbox and *host. */
static void read_addr_spec(struct lex *lx, char **mailbox, char **host)
{
	*mailbox = read_local(lx);
	*host = NULL;
	if (*lx->p == '@') {
		lx->p++;
		*host = read_domain(lx);
	}
}

/* obs-route after '<': "@a,@b:" as "@a,@b"; NULL (and nothing read) when
 * there is none. */
static char *read_route(struct lex *lx)
{
	const char *start = lx->p;
	struct strbuf b = { 0 };
	for (;;) {
		while (*lx->p == ',' || *lx->p == ' ' || *lx->p == '\t' || *lx->p == '(') {
			if (*lx->p == '(')
				skip_comment(lx);
			else
				lx->p++;
		}
		if (*lx->p != '@')
			break;
		lx->p++;
		char *d = read_domain(lx);
		if (b.len)
			strbuf_addc(&b, ',');
		strbuf_addc(&b, '@');
		if (d)
			strbuf_adds(&b, d);
		free(d);
	}
	if (!b.len || *lx->p != ':') {
		free(b.p);
		lx->p = start;
		return NULL;
	}
	lx->p++;
	return b.p;
}

/* angle-addr after the '<'. */
static void read_angle(struct lex *lx, char *name)
{
	skip_cfws(lx);
	char *route = read_route(lx), *mailbox, *host;
	read_addr_spec(lx, &mailbox, &host);
	skip_cfws(lx);
	/* anything else before '>' is not an address: dropped */
	while (*lx->p && *lx->p != '>' && *lx->p != ',' && *lx->p != ';')
		lx->p++;
	if (*lx->p == '>')
		lx->p++;
	if (!mailbox && !host && !route && !*name) {
		free(name);
		return;	/* "<>" alone (the null address): no entry */
	}
	add_mailbox(lx, name, route, mailbox, host);
}

/* mailbox or group. in_group: a group's member (no nested groups). */
static void read_address(struct lex *lx, bool in_group);

static void read_group(struct lex *lx, char *name)
{
	if (lx->n + 2 > MIME_ADDR_MAX) {	/* no room for start and end: the list ends */
		free(name);
		lx->p += strlen(lx->p);
		return;
	}
	add(lx, NULL, NULL, name, NULL);
	for (;;) {
		skip_cfws(lx);
		/* one entry is kept for the end marker, so groups stay balanced */
		if (!*lx->p || *lx->p == ';' || lx->n >= MIME_ADDR_MAX - 1)
			break;
		if (*lx->p == ',') {
			lx->p++;
			continue;
		}
		read_address(lx, true);
	}
	if (*lx->p == ';')
		lx->p++;
	add(lx, NULL, NULL, NULL, NULL);
}

/* Skip what cannot be an address, up to the next list separator. */
static void skip_garbage(struct lex *lx, bool in_group)
{
	while (*lx->p && *lx->p != ',' && !(in_group && *lx->p == ';')) {
		if (*lx->p == '"') {
			struct strbuf drop = { 0 };
			read_quoted(lx, &drop);
			free(drop.p);
		} else if (*lx->p == '(') {
			skip_comment(lx);
		} else {
			lx->p++;
		}
	}
}

static void read_address(struct lex *lx, bool in_group)
{
	const char *start = lx->p;
	struct strbuf phrase = { 0 };
	read_phrase(lx, &phrase);
	if (*lx->p == '<') {
		lx->p++;
		read_angle(lx, sb_take(&phrase));
	} else if (*lx->p == ':' && !in_group) {
		lx->p++;
		read_group(lx, sb_take(&phrase));
	} else {
		/* an addr-spec; its last comment, if any, is the display name */
		lx->p = start;
		lx->comment.len = 0;
		char *mailbox, *host;
		read_addr_spec(lx, &mailbox, &host);
		skip_cfws(lx);
		if (mailbox || host)
			add_mailbox(lx, lx->comment.len ? xstrdup(lx->comment.p) : NULL, NULL, mailbox,
				    host);
	}
	free(phrase.p);
	skip_cfws(lx);
	if (lx->p == start)
		lx->p++;	/* a stray special: step over it */
	skip_garbage(lx, in_group);
}

size_t mime_addr_parse(const char *value, struct mime_addr **out)
{
	struct lex lx = { .p = value };
	while (*lx.p && lx.n < MIME_ADDR_MAX) {
		skip_cfws(&lx);
		if (*lx.p == ',') {
			lx.p++;
			continue;
		}
		if (*lx.p)
			read_address(&lx, false);
	}
	free(lx.comment.p);
	*out = lx.v;
	return lx.n;
}

void mime_addr_free(struct mime_addr *a, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(a[i].name);
		free(a[i].route);
		free(a[i].mailbox);
		free(a[i].host);
	}
	free(a);
}
