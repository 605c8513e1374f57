/* mime_preview.c — RFC 8970 preview text (see mime_preview.h). */
#include "common/mime_preview.h"
#include "common/mime.h"
#include "common/util.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool is(const struct mime_part *p, const char *type, const char *sub)
{
	return !strcasecmp(p->type, type) && !strcasecmp(p->subtype, sub);
}

bool mime_is_encrypted(const struct mime_msg *m)
{
	const struct mime_part *p = m->root;
	return p && (is(p, "multipart", "encrypted") || is(p, "application", "pkcs7-mime") ||
		     is(p, "application", "x-pkcs7-mime"));
}

/* The first text/plain or text/html part under p that is not an attachment;
 * in a multipart/alternative text/plain wins. Nested messages are
 * attachments too; the tree's depth is bounded by the parser. */
static const struct mime_part *text_part(const struct mime_part *p)
{
	if (p->disp && !strcasecmp(p->disp, "attachment"))
		return NULL;
	if (!p->multipart)
		return is(p, "text", "plain") || is(p, "text", "html") ? p : NULL;
	if (is(p, "multipart", "encrypted"))
		return NULL;
	bool alt = is(p, "multipart", "alternative");
	const struct mime_part *found = NULL;
	for (const struct mime_part *c = p->children; c; c = c->next) {
		const struct mime_part *t = text_part(c);
		if (t && (!alt || is(t, "text", "plain")))
			return t;
		if (!found)
			found = t;
	}
	return found;
}

size_t mime_utf8_char(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	if (!n)
		return 0;
	if (u[0] < 0x80)
		return 1;
	size_t len = u[0] >= 0xf0 ? 4 : u[0] >= 0xe0 ? 3 : u[0] >= 0xc0 ? 2 : 0;
	if (!len || len > n)
		return 0;
	uint32_t cp = u[0] & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((u[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (u[i] & 0x3f);
	}
	static const uint32_t least[] = { 0, 0, 0x80, 0x800, 0x10000 };
	if (cp < least[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Append code point cp as UTF-8 to out at *o (room for 4 octets). */
static void put_utf8(char *out, size_t *o, uint32_t cp)
{
	unsigned char *u = (unsigned char *)out + *o;
	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		*o += 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | cp >> 6);
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		*o += 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | cp >> 12);
		u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		*o += 3;
	} else {
		u[0] = (unsigned char)(0xf0 | cp >> 18);
		u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (unsigned char)(0x80 | (cp & 0x3f));
		*o += 4;
	}
}

/* An HTML character reference at s (after '&'): its code point and the
 * octets it takes (with the ';'), or 0 when it is none tern knows. */
static size_t html_entity(const char *s, size_t n, uint32_t *cp)
{
	static const struct { const char *name; uint32_t cp; } names[] = {
		{ "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' }, { "quot;", '"' },
		{ "apos;", '\'' }, { "nbsp;", ' ' },
	};
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		size_t l = strlen(names[i].name);
		if (l <= n && !strncasecmp(s, names[i].name, l)) {
			*cp = names[i].cp;
			return l;
		}
	}
	if (n < 3 || s[0] != '#')
		return 0;
	bool hex = s[1] == 'x' || s[1] == 'X';
	uint32_t v = 0;
	size_t i = hex ? 2 : 1;
	for (; i < n && i < 10 && isxdigit((unsigned char)s[i]); i++) {
		if (!hex && !isdigit((unsigned char)s[i]))
			break;
		v = v * (hex ? 16 : 10) + (uint32_t)mime_hex_value(s[i]);
	}
	if (i >= n || s[i] != ';' || i == (hex ? 2u : 1u) || !v || v > 0x10ffff ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return i + 1;
}

/* Where the markup starting at s[i] == '<' ends (the index after it): a
 * comment, or a tag, whose content is skipped as well for the elements
 * that hold no text to read (head, style, script, title). */
static size_t html_skip(const char *s, size_t n, size_t i)
{
	if (n - i >= 4 && !memcmp(s + i, "<!--", 4)) {
		const char *e = memmem(s + i + 4, n - i - 4, "-->", 3);
		return e ? (size_t)(e - s) + 3 : n;
	}
	static const char *const blind[] = { "head", "style", "script", "title" };
	const char *gt = memchr(s + i, '>', n - i);
	size_t end = gt ? (size_t)(gt - s) + 1 : n;
	for (size_t k = 0; k < ARRAY_LEN(blind); k++) {
		size_t l = strlen(blind[k]);
		if (n - i < l + 2 || strncasecmp(s + i + 1, blind[k], l) ||
		    isalnum((unsigned char)s[i + 1 + l]))
			continue;
		for (size_t j = end; j + l + 2 <= n; j++)
			if (s[j] == '<' && s[j + 1] == '/' && !strncasecmp(s + j + 2, blind[k], l)) {
				const char *g = memchr(s + j, '>', n - j);
				return g ? (size_t)(g - s) + 1 : n;
			}
		return n;
	}
	return end;
}

/* The text of HTML: markup dropped (a space in its place, so words stay
 * apart), character references decoded. malloc'd; *outlen set. */
static char *html_text(const char *s, size_t n, size_t *outlen)
{
	char *out = xmalloc(n + 1);
	size_t o = 0;
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t l;
		if (s[i] == '<') {
			i = html_skip(s, n, i);
			out[o++] = ' ';
		} else if (s[i] == '&' && (l = html_entity(s + i + 1, n - i - 1, &cp))) {
			put_utf8(out, &o, cp);	/* never longer than the reference */
			i += l + 1;
		} else {
			out[o++] = s[i++];
		}
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

/* Whitespace and control characters (C0, DEL, C1, no-break space) as one
 * space, none at either end, invalid UTF-8 dropped, at most
 * MIME_PREVIEW_MAX characters. */
static char *normalize(const char *s, size_t n)
{
	char *out = xmalloc(MIME_PREVIEW_MAX * 4 + 1);
	size_t o = 0, chars = 0;
	bool space = false;
	for (size_t i = 0; i < n && chars < MIME_PREVIEW_MAX;) {
		size_t len = mime_utf8_char(s + i, n - i);
		unsigned char c = (unsigned char)s[i], c2 = len == 2 ? (unsigned char)s[i + 1] : 0;
		if (!len) {
			i++;
			continue;
		}
		if ((len == 1 && (c <= ' ' || c == 0x7f)) || (c == 0xc2 && c2 <= 0xa0)) {
			space = o > 0;
			i += len;
			continue;
		}
		if (space && chars + 1 < MIME_PREVIEW_MAX) {
			out[o++] = ' ';
			chars++;
		} else if (space) {
			break;
		}
		space = false;
		memcpy(out + o, s + i, len);
		o += len;
		chars++;
		i += len;
	}
	out[o] = '\0';
	return out;
}

const struct mime_part *mime_preview_part(const struct mime_msg *m)
{
	return m->root && !mime_is_encrypted(m) ? text_part(m->root) : NULL;
}

char *mime_preview_text(const struct mime_part *p, const char *body, size_t n)
{
	struct mime_part only = *p;	/* the body alone, at offset 0 */
	only.body_off = 0;
	only.body_len = n < MIME_PREVIEW_SCAN ? n : MIME_PREVIEW_SCAN;
	struct mime_msg m = { .buf = body, .len = only.body_len, .root = &only, .nparts = 1 };
	char *t = mime_body_text(&m, &only, &n);
	if (!strcasecmp(p->subtype, "html")) {
		char *h = html_text(t, n, &n);
		free(t);
		t = h;
	}
	char *r = normalize(t, n);
	free(t);
	return r;
}

char *mime_preview(const struct mime_msg *m)
{
	const struct mime_part *p = mime_preview_part(m);
	return p ? mime_preview_text(p, m->buf + p->body_off, p->body_len) : xstrdup("");
}
