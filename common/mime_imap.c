/* mime_imap.c — IMAP renderings of a parsed message: ENVELOPE, BODYSTRUCTURE,
 * sections and header filtering (RFC 3501 6.4.5, 7.4.2). */
#include "common/mime.h"
#include "common/mime_addr.h"
#include "common/strbuf.h"
#include "common/util.h"

#include <ctype.h>
#include <stdio.h>
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

/* The renderings below write into one growing buffer (strbuf.h) and
 * evbuffer callers get the result in one piece: a first open renders
 * ENVELOPE, BODYSTRUCTURE and BODY for every message, and an evbuffer_add
 * per token was a tenth of its instructions. */

static void sb_lit(struct strbuf *b, const char *s, size_t n)
{
	memcpy(strbuf_room(b, n), s, n);
	strbuf_commit(b, n);
}

#define SB_LIT(b, s) sb_lit((b), (s), sizeof(s) - 1)

/* " " and a decimal number */
static void sb_space_num(struct strbuf *b, size_t v)
{
	char t[24], *e = t + sizeof t, *p = e;
	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10));
	*--p = ' ';
	sb_lit(b, p, (size_t)(e - p));
}

void imap_quote_sb(struct strbuf *out, const char *s, size_t len)
{
	bool literal = len > 1024;
	size_t esc = 0;
	for (size_t i = 0; i < len && !literal; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r' || c == '\n' || c == 0 || c >= 0x80)
			literal = true;
		esc += c == '"' || c == '\\';
	}
	if (literal) {
		char t[32];
		int n = snprintf(t, sizeof t, "{%zu}\r\n", len);
		sb_lit(out, t, (size_t)n);
		sb_lit(out, s, len);
		return;
	}
	char *o = strbuf_room(out, len + esc + 2), *start = o;
	*o++ = '"';
	if (!esc) {
		memcpy(o, s, len);
		o += len;
	} else {
		for (size_t i = 0; i < len; i++) {
			if (s[i] == '"' || s[i] == '\\')
				*o++ = '\\';
			*o++ = s[i];
		}
	}
	*o++ = '"';
	strbuf_commit(out, (size_t)(o - start));
}

static void nstring(struct strbuf *out, const char *s)
{
	if (!s)
		SB_LIT(out, "NIL");
	else
		imap_quote_sb(out, s, strlen(s));
}

/* b's bytes to out in one piece; b is freed. */
static void to_evbuffer(struct strbuf *b, struct evbuffer *out)
{
	evbuffer_add(out, b->p ? b->p : "", b->len);
	strbuf_free(b);
}

void imap_quote(struct evbuffer *out, const char *s, size_t len)
{
	struct strbuf b = { 0 };
	imap_quote_sb(&b, s, len);
	to_evbuffer(&b, out);
}

void imap_nstring(struct evbuffer *out, const char *s)
{
	struct strbuf b = { 0 };
	nstring(&b, s);
	to_evbuffer(&b, out);
}

/* ---- addresses ---- */

/* An address list as ENVELOPE spells it (mime_addr.h), NIL when empty. */
static void addresses_out(struct strbuf *out, const struct mime_addr *v, size_t n)
{
	if (!n) {
		SB_LIT(out, "NIL");
		return;
	}
	SB_LIT(out, "(");
	for (size_t i = 0; i < n; i++) {
		SB_LIT(out, "(");
		nstring(out, v[i].name);
		SB_LIT(out, " ");
		nstring(out, v[i].route);
		SB_LIT(out, " ");
		nstring(out, v[i].mailbox);
		SB_LIT(out, " ");
		nstring(out, v[i].host);
		SB_LIT(out, ")");
	}
	SB_LIT(out, ")");
}

/* ---- ENVELOPE ---- */

int mime_env_field(struct mime_env *e, const char *name, const char *value, bool *first)
{
	int i = mime_envelope_slot(name);
	bool is_first = i >= 0 && !e->v[i];
	if (first)
		*first = is_first;
	if (!is_first)
		return i;
	e->v[i] = xstrdup(value);
	if (i >= MIME_ENV_FROM && i <= MIME_ENV_BCC)
		e->na[i] = mime_addr_parse(value, &e->a[i]);
	return i;
}

static int env_cb(const char *name, const char *value, void *arg)
{
	mime_env_field(arg, name, value, NULL);
	return 0;
}

void mime_env_render(const struct mime_env *e, struct strbuf *out)
{
	SB_LIT(out, "(");
	for (int i = 0; i < MIME_ENV_N; i++) {
		if (i)
			SB_LIT(out, " ");
		/* RFC 3501: a Sender or Reply-To that is absent or empty (no
		 * address in it) is the From */
		int src = (i == MIME_ENV_SENDER || i == MIME_ENV_REPLYTO) && !e->na[i] ? MIME_ENV_FROM : i;
		if (i >= MIME_ENV_FROM && i <= MIME_ENV_BCC)
			addresses_out(out, e->a[src], e->na[src]);
		else
			nstring(out, e->v[i]);
	}
	SB_LIT(out, ")");
}

void mime_env_out(const struct mime_env *e, struct evbuffer *out)
{
	struct strbuf b = { 0 };
	mime_env_render(e, &b);
	to_evbuffer(&b, out);
}

void mime_env_free(struct mime_env *e)
{
	for (int i = 0; i < MIME_ENV_N; i++) {
		mime_addr_free(e->a[i], e->na[i]);
		free(e->v[i]);
	}
	memset(e, 0, sizeof *e);
}

static void envelope_render(const struct mime_msg *m, const struct mime_part *p, struct strbuf *out)
{
	struct mime_env e = { 0 };
	mime_header_each(m->buf + p->hdr_off, p->hdr_len, env_cb, &e);
	mime_env_render(&e, out);
	mime_env_free(&e);
}

void mime_envelope(const struct mime_msg *m, const struct mime_part *p, struct evbuffer *out)
{
	struct strbuf b = { 0 };
	envelope_render(m, p, &b);
	to_evbuffer(&b, out);
}

/* ---- BODYSTRUCTURE ---- */

static void params_out(struct strbuf *out, const struct mime_param *ps, size_t n)
{
	if (!n) {
		SB_LIT(out, "NIL");
		return;
	}
	SB_LIT(out, "(");
	for (size_t i = 0; i < n; i++) {
		if (i)
			SB_LIT(out, " ");
		nstring(out, ps[i].name);
		SB_LIT(out, " ");
		nstring(out, ps[i].value);
	}
	SB_LIT(out, ")");
}

static void lang_out(struct strbuf *out, const char *lang)
{
	if (!lang) {
		SB_LIT(out, "NIL");
		return;
	}
	char *copy = xstrdup(lang), *save = NULL;
	char *items[32];
	int n = 0;
	for (char *t = strtok_r(copy, ", \t", &save); t && n < 32; t = strtok_r(NULL, ", \t", &save))
		items[n++] = t;
	if (n == 0)
		SB_LIT(out, "NIL");
	else if (n == 1)
		nstring(out, items[0]);
	else {
		SB_LIT(out, "(");
		for (int i = 0; i < n; i++) {
			if (i)
				SB_LIT(out, " ");
			nstring(out, items[i]);
		}
		SB_LIT(out, ")");
	}
	free(copy);
}

static void ext_tail(struct strbuf *out, const struct mime_part *p)
{
	SB_LIT(out, " ");
	if (p->disp) {
		SB_LIT(out, "(");
		nstring(out, p->disp);
		SB_LIT(out, " ");
		params_out(out, p->dparams, p->ndparams);
		SB_LIT(out, ")");
	} else {
		SB_LIT(out, "NIL");
	}
	SB_LIT(out, " ");
	lang_out(out, p->lang);
	SB_LIT(out, " ");
	nstring(out, p->loc);
}

void mime_bodystructure_render(const struct mime_msg *m, const struct mime_part *p, bool ext,
			       struct strbuf *out)
{
	SB_LIT(out, "(");
	if (p->multipart) {
		for (const struct mime_part *c = p->children; c; c = c->next)
			mime_bodystructure_render(m, c, ext, out);
		SB_LIT(out, " ");
		nstring(out, p->subtype);
		if (ext) {
			SB_LIT(out, " ");
			params_out(out, p->params, p->nparams);
			ext_tail(out, p);
		}
		SB_LIT(out, ")");
		return;
	}
	nstring(out, p->type);
	SB_LIT(out, " ");
	nstring(out, p->subtype);
	SB_LIT(out, " ");
	params_out(out, p->params, p->nparams);
	SB_LIT(out, " ");
	nstring(out, p->id);
	SB_LIT(out, " ");
	nstring(out, p->desc);
	SB_LIT(out, " ");
	nstring(out, p->enc ? p->enc : "7BIT");
	sb_space_num(out, p->body_len);
	if (p->msg) {
		SB_LIT(out, " ");
		envelope_render(m, p->msg, out);
		SB_LIT(out, " ");
		mime_bodystructure_render(m, p->msg, ext, out);
		sb_space_num(out, p->body_lines);
	} else if (!strcasecmp(p->type, "text")) {
		sb_space_num(out, p->body_lines);
	}
	if (ext) {
		SB_LIT(out, " ");
		nstring(out, p->md5);
		ext_tail(out, p);
	}
	SB_LIT(out, ")");
}

void mime_bodystructure(const struct mime_msg *m, const struct mime_part *p, bool ext,
			struct evbuffer *out)
{
	struct strbuf b = { 0 };
	mime_bodystructure_render(m, p, ext, &b);
	to_evbuffer(&b, out);
}

/* ---- sections ---- */

static const struct mime_part *step(const struct mime_part *cur, bool is_root, unsigned long n)
{
	const struct mime_part *c = (!is_root && cur->msg) ? cur->msg : cur;
	if (c->multipart) {
		const struct mime_part *k = c->children;
		for (unsigned long i = 1; k && i < n; i++)
			k = k->next;
		return k;
	}
	return n == 1 ? c : NULL;
}

static int parse_field_list(const char *s, struct mime_section *out)
{
	while (*s == ' ')
		s++;
	if (*s++ != '(')
		return -1;
	for (;;) {
		while (*s == ' ')
			s++;
		if (*s == ')')
			return s[1] ? -1 : (out->nfields ? 0 : -1);
		const char *w = s;
		bool quoted = *s == '"';
		if (quoted) {
			w = ++s;
			while (*s && *s != '"')
				s++;
		} else {
			while (*s && *s != ' ' && *s != ')')
				s++;
		}
		if (s == w || !*s || out->nfields >= 200)
			return -1;
		out->fields = xrealloc(out->fields, (out->nfields + 1) * sizeof *out->fields);
		out->fields[out->nfields++] = xstrndup(w, (size_t)(s - w));
		if (quoted)
			s++;
	}
}

const struct mime_part *mime_find_part(const struct mime_msg *m, const char *spec)
{
	const struct mime_part *p = m->root;
	bool numbered = false;
	for (const char *s = spec; *s;) {
		char *end;
		unsigned long n = strtoul(s, &end, 10);
		if (end == s || n == 0 || n > 100000 || (*end && *end != '.'))
			return NULL;
		p = step(p, !numbered, n);
		if (!p)
			return NULL;
		numbered = true;
		s = *end ? end + 1 : end;
	}
	if (numbered && p->multipart)
		return NULL;	/* BINARY of a multipart is not defined */
	return p;
}

int mime_section(const struct mime_msg *m, const char *spec, struct mime_section *out)
{
	memset(out, 0, sizeof *out);
	const struct mime_part *p = m->root;
	bool numbered = false, missing = false;
	const char *s = spec;
	while (isdigit((unsigned char)*s)) {
		char *end;
		unsigned long n = strtoul(s, &end, 10);
		if (n == 0 || n > 100000)
			return -1;
		if (p)
			p = step(p, !numbered, n);
		if (!p)
			missing = true;
		numbered = true;
		s = end;
		if (*s == '.')
			s++;
		else if (*s)
			return -1;
	}
	/* a part that does not exist: empty data */
	const struct mime_part *msgp = p;
	if (!missing && numbered && p)
		msgp = p->msg;	/* HEADER/TEXT of a part need message/rfc822 */
	if (!*s) {
		if (missing) {
			out->off = out->len = 0;
		} else if (!numbered) {
			out->off = 0;
			out->len = m->len;
		} else {
			out->off = p->body_off;
			out->len = p->body_len;
		}
		return 0;
	}
	if (!strcasecmp(s, "MIME")) {
		if (!numbered)
			return -1;
		if (!missing) {
			out->off = p->hdr_off;
			out->len = p->hdr_len;
		}
		return 0;
	}
	bool ok_target = !missing && msgp;
	if (!strcasecmp(s, "HEADER") || !strcasecmp(s, "TEXT")) {
		if (ok_target) {
			bool hdr = !strcasecmp(s, "HEADER");
			out->off = hdr ? msgp->hdr_off : msgp->body_off;
			out->len = hdr ? msgp->hdr_len : msgp->body_len;
		}
		return 0;
	}
	if (!strncasecmp(s, "HEADER.FIELDS", 13)) {
		const char *rest = s + 13;
		out->kind = MIME_SEC_FIELDS;
		if (!strncasecmp(rest, ".NOT", 4)) {
			out->kind = MIME_SEC_FIELDS_NOT;
			rest += 4;
		}
		if (parse_field_list(rest, out) < 0) {
			mime_section_free(out);
			return -1;
		}
		if (ok_target) {
			out->off = msgp->hdr_off;
			out->len = msgp->hdr_len;
		}
		return 0;
	}
	return -1;
}

void mime_section_free(struct mime_section *s)
{
	for (size_t i = 0; i < s->nfields; i++)
		free(s->fields[i]);
	free(s->fields);
	s->fields = NULL;
	s->nfields = 0;
}

void mime_header_filter(const char *hdr, size_t len, char **fields, size_t nfields, bool not,
			struct evbuffer *out)
{
	size_t i = 0;
	while (i < len) {
		size_t start = i, e = i;
		while (e < len) {
			if (hdr[e] == '\n' && (e + 1 >= len || (hdr[e + 1] != ' ' && hdr[e + 1] != '\t')))
				break;
			e++;
		}
		i = e < len ? e + 1 : len;
		const char *colon = memchr(hdr + start, ':', i - start);
		if (!colon)
			continue;
		size_t nlen = (size_t)(colon - (hdr + start));
		while (nlen && (hdr[start + nlen - 1] == ' ' || hdr[start + nlen - 1] == '\t'))
			nlen--;
		bool listed = false;
		for (size_t k = 0; k < nfields && !listed; k++)
			listed = strlen(fields[k]) == nlen && !strncasecmp(fields[k], hdr + start, nlen);
		if (listed != not) {
			evbuffer_add(out, hdr + start, i - start);
			if (i - start < 2 || hdr[i - 1] != '\n')
				evbuffer_add(out, "\r\n", 2);
		}
	}
	evbuffer_add(out, "\r\n", 2);
}
