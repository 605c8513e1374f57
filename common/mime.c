/* mime.c — the MIME tree: header scanning, Content-* fields, multipart
 * boundaries, message/rfc822, with hard limits. */
#include "common/mime.h"
#include "common/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

char *mime_to_crlf(const char *data, size_t len, size_t *outlen)
{
	size_t n = mime_crlf_size(data, len);
	char *out = xmalloc(n + 1), *o = out;
	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			*o++ = '\r';
		*o++ = data[i];
	}
	*o = '\0';
	*outlen = n;
	return out;
}

size_t mime_crlf_size(const char *data, size_t len)
{
	size_t n = len;
	for (size_t i = 0; i < len; i++)
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			n++;
	return n;
}

/* ---- header fields ---- */

/* End of the header block starting at off (index after the empty line, or end). */
static size_t header_end(const char *b, size_t off, size_t end)
{
	if (end - off >= 2 && b[off] == '\r' && b[off + 1] == '\n')
		return off + 2;	/* no header at all */
	const char *p = b + off;
	size_t limit = end - off;
	for (size_t i = 0; i + 3 < limit; i++) {
		if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n')
			return off + i + 4;
	}
	return end;
}

/* The value of a field whose colon ends at vs and whose last line ends at e
 * (its LF, or len), into a malloc'd copy (returned, to free): *value is it
 * unfolded and trimmed (a place inside the copy), or raw (every octet up to
 * the final CRLF). */
static char *field_value(const char *hdr, size_t vs, size_t e, bool folded, bool raw,
			 char **value)
{
	char *val = xmalloc(e - vs + 1), *o = val;
	size_t ve = e > vs && hdr[e - 1] == '\r' ? e - 1 : e;
	if (raw || (!folded && !memchr(hdr + vs, '\r', ve - vs))) {
		memcpy(o, hdr + vs, ve - vs);	/* one line, no inner CR: most fields */
		o += ve - vs;
	} else {
		/* unfold: drop CR and LF, keep the whitespace that follows */
		for (size_t k = vs; k < e; k++)
			if (hdr[k] != '\r' && hdr[k] != '\n')
				*o++ = hdr[k];
	}
	*o = '\0';
	*value = raw ? val : str_trim(val);
	return val;
}

static int each_field(const char *hdr, size_t len, bool raw,
		      int (*fn)(const char *name, const char *value, void *arg), void *arg)
{
	size_t i = 0;
	while (i < len) {
		if (!hdr[i]) {
			i++;	/* a gap of a streaming image */
			continue;
		}
		size_t start = i;
		/* the field runs to a CRLF not followed by whitespace (memchr:
		 * this runs over every header of a folder on a first open) */
		size_t e = i;
		bool folded = false;
		for (;;) {
			const char *nl = memchr(hdr + e, '\n', len - e);
			e = nl ? (size_t)(nl - hdr) : len;
			if (e >= len || e + 1 >= len || (hdr[e + 1] != ' ' && hdr[e + 1] != '\t'))
				break;
			e++;
			folded = true;
		}
		i = e < len ? e + 1 : len;
		const char *colon = memchr(hdr + start, ':', e - start);
		if (!colon)
			continue;	/* not a field (or the empty line) */
		size_t nlen = (size_t)(colon - (hdr + start));
		while (nlen && (hdr[start + nlen - 1] == ' ' || hdr[start + nlen - 1] == '\t'))
			nlen--;
		if (!nlen || nlen > 200)
			continue;
		char name[201];
		memcpy(name, hdr + start, nlen);
		name[nlen] = '\0';
		char *v, *val = field_value(hdr, (size_t)(colon - hdr) + 1, e, folded, raw, &v);
		int r = fn(name, v, arg);
		free(val);
		if (r)
			return r;
	}
	return 0;
}

int mime_header_each(const char *hdr, size_t len,
		     int (*fn)(const char *name, const char *value, void *arg), void *arg)
{
	return each_field(hdr, len, false, fn, arg);
}

int mime_header_each_raw(const char *hdr, size_t len,
			 int (*fn)(const char *name, const char *value, void *arg), void *arg)
{
	return each_field(hdr, len, true, fn, arg);
}

const char *const mime_envelope_names[MIME_ENV_N] = {
	"date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc", "in-reply-to", "message-id",
};

int mime_envelope_slot(const char *name)
{
	/* the first letter first: every field of every header of a folder
	 * comes here on a first open, and most are none of the ten */
	int c = tolower((unsigned char)name[0]);
	for (int i = 0; i < MIME_ENV_N; i++)
		if (mime_envelope_names[i][0] == c && !strcasecmp(name, mime_envelope_names[i]))
			return i;
	return -1;
}

bool mime_envelope_field(const char *name)
{
	return mime_envelope_slot(name) >= 0;
}

bool mime_field_kept(const char *line, size_t n)
{
	while (n && !*line) {
		line++;	/* as mime_header_each skips them */
		n--;
	}
	const char *colon = memchr(line, ':', n);
	if (!colon)
		return false;
	size_t nl = (size_t)(colon - line);
	while (nl && (line[nl - 1] == ' ' || line[nl - 1] == '\t'))
		nl--;
	if (nl >= 8 && !strncasecmp(line, "content-", 8))
		return true;
	char name[32];
	if (!nl || nl >= sizeof name)
		return false;
	memcpy(name, line, nl);
	name[nl] = '\0';
	return mime_envelope_field(name);
}

struct get_ctx {
	const char *name;
	char *found;
};

static int get_cb(const char *name, const char *value, void *arg)
{
	struct get_ctx *g = arg;
	if (strcasecmp(name, g->name))
		return 0;
	g->found = xstrdup(value);
	return 1;
}

char *mime_header_get(const char *hdr, size_t len, const char *name)
{
	struct get_ctx g = { name, NULL };
	mime_header_each(hdr, len, get_cb, &g);
	return g.found;
}

/* ---- Content-Type and friends ---- */

static const char *skip_cfws(const char *p)
{
	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '(')
			return p;
		int depth = 0;
		do {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')')
				depth--;
			p++;
		} while (*p && depth > 0);
	}
}

/* A token (RFC 2045) or quoted string; malloc'd, or NULL if none. */
static char *take_word(const char **pp, const char *stops)
{
	const char *p = skip_cfws(*pp);
	if (*p == '"') {
		p++;
		char *out = xmalloc(strlen(p) + 1), *o = out;
		while (*p && *p != '"') {
			if (*p == '\\' && p[1])
				p++;
			*o++ = *p++;
		}
		if (*p == '"')
			p++;
		*o = '\0';
		*pp = p;
		return out;
	}
	const char *s = p;
	while (*p && !strchr(stops, *p) && *p != ' ' && *p != '\t' && *p != '(' &&
	       (unsigned char)*p > 31)
		p++;
	*pp = p;
	return p > s ? xstrndup(s, (size_t)(p - s)) : NULL;
}

/* ";name=value" list after the main value. */
static void parse_params(const char *p, struct mime_param **out, size_t *n)
{
	for (int guard = 0; guard < 100; guard++) {
		p = skip_cfws(p);
		while (*p && *p != ';')
			p++;	/* skip junk up to the next parameter */
		if (*p != ';')
			return;
		p++;
		char *name = take_word(&p, "=;");
		p = skip_cfws(p);
		if (!name || *p != '=') {
			free(name);
			continue;
		}
		p++;
		char *value = take_word(&p, ";");
		*out = xrealloc(*out, (*n + 1) * sizeof **out);
		(*out)[*n].name = name;
		(*out)[*n].value = value ? value : xstrdup("");
		(*n)++;
	}
}

static void parse_params_folded(const char *p, struct mime_param **out, size_t *n)
{
	parse_params(p, out, n);
	mime_params_fold(out, n);
}

static const char *param_get(const struct mime_param *ps, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(ps[i].name, name))
			return ps[i].value;
	return NULL;
}

static void parse_ctype(struct mime_part *p, const char *v)
{
	if (p->type)
		return;	/* the first Content-Type counts */
	const char *s = v;
	char *type = take_word(&s, "/;");
	s = skip_cfws(s);
	char *sub = NULL;
	if (type && *s == '/') {
		s++;
		sub = take_word(&s, ";");
	}
	if (!type || !sub) {	/* malformed: RFC 2045 5.2 says text/plain */
		free(type);
		free(sub);
		return;
	}
	free(p->type);
	free(p->subtype);
	p->type = type;
	p->subtype = sub;
	parse_params_folded(s, &p->params, &p->nparams);
}

static void parse_disposition(struct mime_part *p, const char *v)
{
	const char *s = v;
	if (p->disp)
		return;
	char *d = take_word(&s, ";");
	if (!d)
		return;
	p->disp = d;
	parse_params_folded(s, &p->dparams, &p->ndparams);
}

static void set_once(char **slot, const char *v)
{
	if (!*slot)
		*slot = xstrdup(v);
}

static int part_field_cb(const char *name, const char *value, void *arg)
{
	struct mime_part *p = arg;
	if (strncasecmp(name, "content-", 8))
		return 0;
	const char *n = name + 8;
	if (!strcasecmp(n, "type"))
		parse_ctype(p, value);
	else if (!strcasecmp(n, "transfer-encoding")) {
		const char *s = value;
		char *w = take_word(&s, ";");
		if (w && !p->enc)
			p->enc = w;
		else
			free(w);
	} else if (!strcasecmp(n, "id"))
		set_once(&p->id, value);
	else if (!strcasecmp(n, "description"))
		set_once(&p->desc, value);
	else if (!strcasecmp(n, "md5"))
		set_once(&p->md5, value);
	else if (!strcasecmp(n, "language"))
		set_once(&p->lang, value);
	else if (!strcasecmp(n, "location"))
		set_once(&p->loc, value);
	else if (!strcasecmp(n, "disposition"))
		parse_disposition(p, value);
	return 0;
}

void mime_part_fields(struct mime_part *p, const char *hdr, size_t len, bool digest_default)
{
	mime_header_each(hdr, len, part_field_cb, p);
	if (!p->type) {
		p->type = xstrdup(digest_default ? "message" : "text");
		p->subtype = xstrdup(digest_default ? "rfc822" : "plain");
	}
}

void mime_empty_child(struct mime_part *p)
{
	/* RFC 3501 needs at least one part: present an empty text part */
	struct mime_part *c = xcalloc(1, sizeof *c);
	c->type = xstrdup("text");
	c->subtype = xstrdup("plain");
	c->hdr_off = c->body_off = p->body_off + p->body_len;
	p->children = c;
	p->nchildren = 1;
}

/* ---- the tree ---- */

struct parser {
	struct mime_msg *m;
};

/* Text lines of a body: those ended by a line break. The CRLF before a
 * boundary belongs to the delimiter, so "hello" then "--b" is 0 lines, as
 * Dovecot counts them (imaptest's urlauth-binary). */
static size_t count_lines(const char *b, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		if (b[i] == '\n')
			n++;
	return n;
}

static void parse_part(struct parser *ps, struct mime_part *p, size_t off, size_t end, int depth,
		       bool digest_default);

/* Is there a boundary delimiter line "--b" at position i (start of a line)? */
static bool is_delim(const char *b, size_t i, size_t end, const char *bd, size_t blen, bool *close)
{
	if (end - i < blen + 2 || b[i] != '-' || b[i + 1] != '-' || memcmp(b + i + 2, bd, blen))
		return false;
	size_t j = i + 2 + blen;
	bool closing = end - j >= 2 && b[j] == '-' && b[j + 1] == '-';
	if (closing)
		j += 2;
	/* only transport padding may follow: "--b1" is not a delimiter of "b10",
	 * and "--b--x" closes nothing */
	while (j < end && (b[j] == ' ' || b[j] == '\t'))
		j++;
	if (j != end && b[j] != '\r' && b[j] != '\n')
		return false;
	*close = closing;
	return true;
}

static size_t line_after(const char *b, size_t i, size_t end)
{
	const char *nl = memchr(b + i, '\n', end - i);
	return nl ? (size_t)(nl - b) + 1 : end;
}

static void parse_multipart(struct parser *ps, struct mime_part *p, int depth)
{
	const char *bd = param_get(p->params, p->nparams, "boundary");
	const char *b = ps->m->buf;
	size_t end = p->body_off + p->body_len;
	if (!bd || !*bd || strlen(bd) > 200)
		return;
	size_t blen = strlen(bd);
	bool digest = !strcasecmp(p->subtype, "digest");
	struct mime_part **tail = &p->children;
	size_t part_start = 0;
	bool in_part = false, close = false;
	for (size_t i = p->body_off; i < end && !close;) {
		if (is_delim(b, i, end, bd, blen, &close)) {
			if (in_part && ps->m->nparts < MIME_MAX_PARTS) {
				/* the CRLF before the delimiter belongs to it */
				size_t pe = i;
				if (pe >= part_start + 2 && b[pe - 2] == '\r' && b[pe - 1] == '\n')
					pe -= 2;
				else if (pe > part_start && b[pe - 1] == '\n')
					pe--;
				if (pe < part_start)
					pe = part_start;
				struct mime_part *c = xcalloc(1, sizeof *c);
				ps->m->nparts++;
				parse_part(ps, c, part_start, pe, depth + 1, digest);
				*tail = c;
				tail = &c->next;
				p->nchildren++;
			}
			i = line_after(b, i, end);
			part_start = i;
			in_part = true;
			continue;
		}
		i = line_after(b, i, end);
	}
	if (in_part && !close && ps->m->nparts < MIME_MAX_PARTS && part_start < end) {
		/* unterminated last part: take it to the end */
		struct mime_part *c = xcalloc(1, sizeof *c);
		ps->m->nparts++;
		parse_part(ps, c, part_start, end, depth + 1, digest);
		*tail = c;
		p->nchildren++;
	}
}

static void parse_part(struct parser *ps, struct mime_part *p, size_t off, size_t end, int depth,
		       bool digest_default)
{
	const char *b = ps->m->buf;
	size_t he = header_end(b, off, end);
	p->hdr_off = off;
	p->hdr_len = he - off;
	p->body_off = he;
	p->body_len = end - he;
	mime_part_fields(p, b + off, p->hdr_len, digest_default);
	p->body_lines = count_lines(b + p->body_off, p->body_len);
	bool can_nest = depth < MIME_MAX_DEPTH && ps->m->nparts < MIME_MAX_PARTS;
	if (!strcasecmp(p->type, "multipart")) {
		p->multipart = true;
		if (can_nest)
			parse_multipart(ps, p, depth);
		if (!p->children)
			mime_empty_child(p);
	} else if (!strcasecmp(p->type, "message") && !strcasecmp(p->subtype, "rfc822") && can_nest) {
		p->msg = xcalloc(1, sizeof *p->msg);
		ps->m->nparts++;
		parse_part(ps, p->msg, p->body_off, end, depth + 1, false);
	}
}

struct mime_msg *mime_parse(const char *buf, size_t len)
{
	struct mime_msg *m = xcalloc(1, sizeof *m);
	m->buf = buf;
	m->len = len;
	m->root = xcalloc(1, sizeof *m->root);
	m->nparts = 1;
	struct parser ps = { m };
	parse_part(&ps, m->root, 0, len, 0, false);
	return m;
}

static void free_params(struct mime_param *ps, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(ps[i].name);
		free(ps[i].value);
	}
	free(ps);
}

static void free_part(struct mime_part *p)
{
	while (p) {
		struct mime_part *next = p->next;
		free_part(p->children);
		free_part(p->msg);
		free(p->type);
		free(p->subtype);
		free_params(p->params, p->nparams);
		free_params(p->dparams, p->ndparams);
		free(p->id);
		free(p->desc);
		free(p->enc);
		free(p->md5);
		free(p->lang);
		free(p->loc);
		free(p->disp);
		free(p);
		p = next;
	}
}

void mime_free(struct mime_msg *m)
{
	if (!m)
		return;
	free_part(m->root);
	free(m);
}
