/* mime_decode.c — decoding for SEARCH: RFC 2047 encoded words, RFC 2231
 * parameters, base64 and quoted-printable bodies, charsets through iconv. */
#include "common/mime.h"
#include "common/util.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DECODE_MAX (16 * 1024 * 1024)	/* decoded text examined per part */

char *mime_to_utf8(const char *charset, const char *s, size_t n)
{
	if (!charset || !*charset || !strcasecmp(charset, "us-ascii") || !strcasecmp(charset, "utf-8") ||
	    !strcasecmp(charset, "utf8"))
		return xstrndup(s, n);
	iconv_t cd = iconv_open("UTF-8//IGNORE", charset);
	if (cd == (iconv_t)-1)
		return NULL;
	size_t cap = n * 4 + 16, left = cap - 1;
	char *out = xmalloc(cap), *o = out;
	char *in = (char *)s;
	size_t inleft = n;
	while (inleft > 0) {
		if (iconv(cd, &in, &inleft, &o, &left) != (size_t)-1)
			break;
		/* with //IGNORE glibc may report EILSEQ after consuming everything */
		if (errno == E2BIG || inleft == 0)
			break;
		/* invalid or incomplete sequence: skip one byte */
		in++;
		inleft--;
	}
	*o = '\0';
	iconv_close(cd);
	return out;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static size_t qp_decode(const char *s, size_t n, char *out, bool underscore_space)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=' && i + 2 < n + 0 && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else if (s[i] == '=' && i + 1 < n && (s[i + 1] == '\r' || s[i + 1] == '\n')) {
			i += s[i + 1] == '\r' && i + 2 < n && s[i + 2] == '\n' ? 2 : 1;	/* soft break */
		} else if (underscore_space && s[i] == '_') {
			out[o++] = ' ';
		} else {
			out[o++] = s[i];
		}
	}
	return o;
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

static size_t b64_decode(const char *s, size_t n, char *out)
{
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int v = b64val((unsigned char)s[i]);
		if (v < 0)
			continue;	/* whitespace, '=' and junk */
		acc = (acc << 6) | (unsigned)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	return o;
}

/* One "=?charset?e?text?=" at s; returns its length and appends the decoding. */
static size_t decode_word(const char *s, char **out, size_t *olen)
{
	if (s[0] != '=' || s[1] != '?')
		return 0;
	const char *cs = s + 2, *q1 = strchr(cs, '?');
	if (!q1 || q1 - cs > 64 || !q1[1] || q1[2] != '?')
		return 0;
	char enc = (char)toupper((unsigned char)q1[1]);
	const char *text = q1 + 3, *end = strstr(text, "?=");
	if (!end || (enc != 'B' && enc != 'Q') || end - text > 4096)
		return 0;
	char charset[65];
	memcpy(charset, cs, (size_t)(q1 - cs));
	charset[q1 - cs] = '\0';
	char *star = strchr(charset, '*');	/* RFC 2231 language suffix */
	if (star)
		*star = '\0';
	char raw[4096];
	size_t n = enc == 'B' ? b64_decode(text, (size_t)(end - text), raw)
			      : qp_decode(text, (size_t)(end - text), raw, true);
	char *u = mime_to_utf8(charset, raw, n);
	if (!u)
		u = xstrndup(raw, n);
	size_t ul = strlen(u);
	*out = xrealloc(*out, *olen + ul + 1);
	memcpy(*out + *olen, u, ul + 1);
	*olen += ul;
	free(u);
	return (size_t)(end + 2 - s);
}

char *mime_decode_words(const char *s)
{
	size_t len = strlen(s), olen = 0;
	char *out = xmalloc(len + 1);
	out[0] = '\0';
	bool last_word = false;
	for (size_t i = 0; i < len;) {
		size_t used = decode_word(s + i, &out, &olen);
		if (used) {
			i += used;
			last_word = true;
			/* whitespace between two encoded words is dropped */
			size_t j = i;
			while (j < len && (s[j] == ' ' || s[j] == '\t'))
				j++;
			if (j < len && s[j] == '=' && s[j + 1] == '?')
				i = j;
			continue;
		}
		last_word = false;
		out = xrealloc(out, olen + 2);
		out[olen++] = s[i++];
		out[olen] = '\0';
	}
	(void)last_word;
	return out;
}

/* RFC 2231: name*=charset'lang'%XX..., name*0=..., name*1*=... */
char *mime_param_decoded(const struct mime_param *ps, size_t n, const char *name)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(ps[i].name, name))
			return mime_decode_words(ps[i].value);
	char *acc = NULL, charset[65] = "";
	size_t alen = 0;
	for (int part = -1; part < 100; part++) {
		char want[64];
		bool found = false;
		for (size_t i = 0; i < n && !found; i++) {
			const char *pn = ps[i].name;
			if (strncasecmp(pn, name, nl) || pn[nl] != '*')
				continue;
			bool ext;
			if (part < 0) {
				if (strcmp(pn + nl, "*"))
					continue;
				ext = true;
			} else {
				snprintf(want, sizeof want, "*%d", part);
				size_t wl = strlen(want);
				if (strncmp(pn + nl, want, wl) || (pn[nl + wl] && strcmp(pn + nl + wl, "*")))
					continue;
				ext = pn[nl + wl] == '*';
			}
			found = true;
			const char *v = ps[i].value;
			if (ext && (part <= 0)) {
				const char *q1 = strchr(v, '\''), *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
				if (q2) {
					size_t cl = (size_t)(q1 - v) < 64 ? (size_t)(q1 - v) : 64;
					memcpy(charset, v, cl);
					charset[cl] = '\0';
					v = q2 + 1;
				}
			}
			size_t vl = strlen(v);
			acc = xrealloc(acc, alen + vl + 1);
			alen += ext ? qp_decode(v, vl, acc + alen, false) : (memcpy(acc + alen, v, vl), vl);
			acc[alen] = '\0';
			/* %XX is what RFC 2231 uses: qp_decode handled '=' only; redo for '%' */
		}
		if (!found && part >= 0)
			break;
		if (found && part < 0)
			break;
	}
	if (!acc)
		return NULL;
	/* percent-decoding (RFC 2231 uses %XX, not =XX) */
	size_t o = 0;
	for (size_t i = 0; i < alen; i++) {
		if (acc[i] == '%' && i + 2 < alen + 1 && hexval(acc[i + 1]) >= 0 && hexval(acc[i + 2]) >= 0) {
			acc[o++] = (char)(hexval(acc[i + 1]) * 16 + hexval(acc[i + 2]));
			i += 2;
		} else {
			acc[o++] = acc[i];
		}
	}
	char *u = mime_to_utf8(charset, acc, o);
	if (!u)
		u = xstrndup(acc, o);
	free(acc);
	return u;
}

char *mime_part_binary(const struct mime_msg *m, const struct mime_part *p, size_t *outlen)
{
	const char *b = m->buf + p->body_off;
	size_t n = p->body_len;
	const char *enc = p->enc ? p->enc : "7bit";
	char *out = xmalloc(n + 1);
	if (!strcasecmp(enc, "base64"))
		*outlen = b64_decode(b, n, out);
	else if (!strcasecmp(enc, "quoted-printable"))
		*outlen = qp_decode(b, n, out, false);
	else if (!strcasecmp(enc, "7bit") || !strcasecmp(enc, "8bit") || !strcasecmp(enc, "binary")) {
		memcpy(out, b, n);
		*outlen = n;
	} else {
		free(out);
		return NULL;
	}
	out[*outlen] = '\0';
	return out;
}

char *mime_body_text(const struct mime_msg *m, const struct mime_part *p, size_t *outlen)
{
	const char *b = m->buf + p->body_off;
	size_t n = p->body_len > DECODE_MAX ? DECODE_MAX : p->body_len;
	char *raw = xmalloc(n + 1);
	size_t rn;
	if (p->enc && !strcasecmp(p->enc, "base64"))
		rn = b64_decode(b, n, raw);
	else if (p->enc && !strcasecmp(p->enc, "quoted-printable"))
		rn = qp_decode(b, n, raw, false);
	else {
		memcpy(raw, b, n);
		rn = n;
	}
	char *cs = mime_param_decoded(p->params, p->nparams, "charset");
	char *u = mime_to_utf8(cs, raw, rn);
	free(cs);
	if (u) {
		free(raw);
		*outlen = strlen(u);
		return u;
	}
	raw[rn] = '\0';
	*outlen = rn;
	return raw;
}
