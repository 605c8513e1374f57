/* mime_imap.c — IMAP renderings of a parsed message: ENVELOPE, BODYSTRUCTURE,
 * sections and header filtering (RFC 3501 6.4.5, 7.4.2). */
#include "common/mime.h"
#include "common/mime_addr.h"
#include "common/util.h"

#include <ctype.h>
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

void imap_quote(struct evbuffer *out, const char *s, size_t len)
{
	bool literal = len > 1024;
	for (size_t i = 0; i < len && !literal; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\r' || c == '\n' || c == 0 || c >= 0x80)
			literal = true;
	}
	if (literal) {
		evbuffer_add_printf(out, "{%zu}\r\n", len);
		evbuffer_add(out, s, len);
		return;
	}
	/* runs between the characters to escape go in one piece */
	evbuffer_add(out, "\"", 1);
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '"' && s[i] != '\\')
			continue;
		evbuffer_add(out, s + run, i - run);
		evbuffer_add(out, "\\", 1);
		run = i;
	}
	evbuffer_add(out, s + run, len - run);
	evbuffer_add(out, "\"", 1);
}

void imap_nstring(struct evbuffer *out, const char *s)
{
	if (!s)
		evbuffer_add(out, "NIL", 3);
	else
		imap_quote(out, s, strlen(s));
}

/* ---- addresses ---- */

/* An address list as ENVELOPE spells it (mime_addr.h), NIL when empty. */
static void addresses_out(struct evbuffer *out, const struct mime_addr *v, size_t n)
{
	if (!n) {
		evbuffer_add(out, "NIL", 3);
		return;
	}
	evbuffer_add(out, "(", 1);
	for (size_t i = 0; i < n; i++) {
		evbuffer_add(out, "(", 1);
		imap_nstring(out, v[i].name);
		evbuffer_add(out, " ", 1);
		imap_nstring(out, v[i].route);
		evbuffer_add(out, " ", 1);
		imap_nstring(out, v[i].mailbox);
		evbuffer_add(out, " ", 1);
		imap_nstring(out, v[i].host);
		evbuffer_add(out, ")", 1);
	}
	evbuffer_add(out, ")", 1);
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

void mime_env_out(const struct mime_env *e, struct evbuffer *out)
{
	evbuffer_add(out, "(", 1);
	for (int i = 0; i < MIME_ENV_N; i++) {
		if (i)
			evbuffer_add(out, " ", 1);
		/* RFC 3501: a Sender or Reply-To that is absent or empty (no
		 * address in it) is the From */
		int src = (i == MIME_ENV_SENDER || i == MIME_ENV_REPLYTO) && !e->na[i] ? MIME_ENV_FROM : i;
		if (i >= MIME_ENV_FROM && i <= MIME_ENV_BCC)
			addresses_out(out, e->a[src], e->na[src]);
		else
			imap_nstring(out, e->v[i]);
	}
	evbuffer_add(out, ")", 1);
}

void mime_env_free(struct mime_env *e)
{
	for (int i = 0; i < MIME_ENV_N; i++) {
		mime_addr_free(e->a[i], e->na[i]);
		free(e->v[i]);
	}
	memset(e, 0, sizeof *e);
}

void mime_envelope(const struct mime_msg *m, const struct mime_part *p, struct evbuffer *out)
{
	struct mime_env e = { 0 };
	mime_header_each(m->buf + p->hdr_off, p->hdr_len, env_cb, &e);
	mime_env_out(&e, out);
	mime_env_free(&e);
}

/* ---- BODYSTRUCTURE ---- */

static void params_out(struct evbuffer *out, const struct mime_param *ps, size_t n)
{
	if (!n) {
		evbuffer_add(out, "NIL", 3);
		return;
	}
	evbuffer_add(out, "(", 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			evbuffer_add(out, " ", 1);
		imap_nstring(out, ps[i].name);
		evbuffer_add(out, " ", 1);
		imap_nstring(out, ps[i].value);
	}
	evbuffer_add(out, ")", 1);
}

static void lang_out(struct evbuffer *out, const char *lang)
{
	if (!lang) {
		evbuffer_add(out, "NIL", 3);
		return;
	}
	char *copy = xstrdup(lang), *save = NULL;
	char *items[32];
	int n = 0;
	for (char *t = strtok_r(copy, ", \t", &save); t && n < 32; t = strtok_r(NULL, ", \t", &save))
		items[n++] = t;
	if (n == 0)
		evbuffer_add(out, "NIL", 3);
	else if (n == 1)
		imap_nstring(out, items[0]);
	else {
		evbuffer_add(out, "(", 1);
		for (int i = 0; i < n; i++) {
			if (i)
				evbuffer_add(out, " ", 1);
			imap_nstring(out, items[i]);
		}
		evbuffer_add(out, ")", 1);
	}
	free(copy);
}

static void ext_tail(struct evbuffer *out, const struct mime_part *p)
{
	evbuffer_add(out, " ", 1);
	if (p->disp) {
		evbuffer_add(out, "(", 1);
		imap_nstring(out, p->disp);
		evbuffer_add(out, " ", 1);
		params_out(out, p->dparams, p->ndparams);
		evbuffer_add(out, ")", 1);
	} else {
		evbuffer_add(out, "NIL", 3);
	}
	evbuffer_add(out, " ", 1);
	lang_out(out, p->lang);
	evbuffer_add(out, " ", 1);
	imap_nstring(out, p->loc);
}

void mime_bodystructure(const struct mime_msg *m, const struct mime_part *p, bool ext,
			struct evbuffer *out)
{
	evbuffer_add(out, "(", 1);
	if (p->multipart) {
		for (const struct mime_part *c = p->children; c; c = c->next)
			mime_bodystructure(m, c, ext, out);
		evbuffer_add(out, " ", 1);
		imap_nstring(out, p->subtype);
		if (ext) {
			evbuffer_add(out, " ", 1);
			params_out(out, p->params, p->nparams);
			ext_tail(out, p);
		}
		evbuffer_add(out, ")", 1);
		return;
	}
	imap_nstring(out, p->type);
	evbuffer_add(out, " ", 1);
	imap_nstring(out, p->subtype);
	evbuffer_add(out, " ", 1);
	params_out(out, p->params, p->nparams);
	evbuffer_add(out, " ", 1);
	imap_nstring(out, p->id);
	evbuffer_add(out, " ", 1);
	imap_nstring(out, p->desc);
	evbuffer_add(out, " ", 1);
	imap_nstring(out, p->enc ? p->enc : "7BIT");
	evbuffer_add_printf(out, " %zu", p->body_len);
	if (p->msg) {
		evbuffer_add(out, " ", 1);
		mime_envelope(m, p->msg, out);
		evbuffer_add(out, " ", 1);
		mime_bodystructure(m, p->msg, ext, out);
		evbuffer_add_printf(out, " %zu", p->body_lines);
	} else if (!strcasecmp(p->type, "text")) {
		evbuffer_add_printf(out, " %zu", p->body_lines);
	}
	if (ext) {
		evbuffer_add(out, " ", 1);
		imap_nstring(out, p->md5);
		ext_tail(out, p);
	}
	evbuffer_add(out, ")", 1);
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
