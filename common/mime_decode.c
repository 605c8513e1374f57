/* mime_decode.c — decoding for SEARCH: RFC 2047 encoded words, RFC 2231
 * parameters, base64 and quoted-printable bodies, charsets through iconv. */
#include "common/mime.h"
#include "common/mime_stream.h"
#include "common/strbuf.h"
#include "common/util.h"

#include <event2/buffer.h>

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

int mime_hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* RFC 2047 "Q" encoded text: "=XX" and "_" for a space. */
static size_t q_decode(const char *s, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=' && i + 2 < n && mime_hex_value(s[i + 1]) >= 0 && mime_hex_value(s[i + 2]) >= 0) {
			out[o++] = (char)(mime_hex_value(s[i + 1]) * 16 + mime_hex_value(s[i + 2]));
			i += 2;
		} else {
			out[o++] = s[i] == '_' ? ' ' : s[i];
		}
	}
	return o;
}

int mime_b64_value(int c)
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
		int v = mime_b64_value((unsigned char)s[i]);
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

#define WORD_CHARSET_MAX 64	/* longest charset name taken */
#define WORD_TEXT_MAX 4096	/* longest encoded text taken */

/* The scan of one header value: where the next "?=" is, found once and
 * reused until the scan passes it, so a value full of "=?" starts that are no
 * encoded words costs one pass, not one pass per start. */
struct words {
	const char *s, *end;	/* the value */
	const char *qe;		/* the next "?=" at or after qe_from, or NULL */
	const char *qe_from;
	iconv_t cd;		/* the last charset's converter, kept for the next word */
	char cd_charset[WORD_CHARSET_MAX + 1];
};

/* The first "?=" in [p, end). memchr, not memmem: sanitizer runtimes check
 * memmem's whole haystack on every call, which would make the scan quadratic
 * again in those builds. */
static const char *find_qe(const char *p, const char *end)
{
	while (p < end && (p = memchr(p, '?', (size_t)(end - p))) != NULL) {
		if (p + 1 < end && p[1] == '=')
			return p;
		p++;
	}
	return NULL;
}

static const char *next_qe(struct words *w, const char *from)
{
	if (w->qe_from && from < w->qe_from) {
		/* a little behind the cached scan (starts move on, texts may
		 * not): look only at the gap, which is under a charset long */
		const char *gap_end = w->qe_from + 1 < w->end ? w->qe_from + 1 : w->end;
		const char *q = find_qe(from, gap_end);
		return q ? q : w->qe;
	}
	if (!w->qe_from || (w->qe && w->qe < from)) {
		w->qe = find_qe(from, w->end);
		w->qe_from = from;
	}
	return w->qe;
}

/* raw (n bytes in charset) to UTF-8, reusing the converter of the word before. */
static char *word_to_utf8(struct words *w, const char *charset, const char *raw, size_t n)
{
	if (!*charset || !strcasecmp(charset, "us-ascii") || !strcasecmp(charset, "utf-8") ||
	    !strcasecmp(charset, "utf8"))
		return xstrndup(raw, n);
	if (w->cd == (iconv_t)-1 || strcasecmp(w->cd_charset, charset)) {
		if (w->cd != (iconv_t)-1)
			iconv_close(w->cd);
		w->cd = iconv_open("UTF-8//IGNORE", charset);
		snprintf(w->cd_charset, sizeof w->cd_charset, "%s", charset);
		if (w->cd == (iconv_t)-1)
			return xstrndup(raw, n);
	}
	iconv(w->cd, NULL, NULL, NULL, NULL);	/* a fresh shift state */
	size_t cap = n * 4 + 16, left = cap - 1, inleft = n;
	char *out = xmalloc(cap), *o = out, *in = (char *)raw;
	while (inleft > 0) {
		if (iconv(w->cd, &in, &inleft, &o, &left) != (size_t)-1)
			break;
		if (errno == E2BIG || inleft == 0)
			break;
		in++;	/* invalid or incomplete sequence: skip one byte */
		inleft--;
	}
	*o = '\0';
	return out;
}

/* One "=?charset?e?text?=" at p; returns its length and appends the decoding
 * to out. */
static size_t decode_word(struct words *w, const char *p, struct strbuf *out)
{
	if (w->end - p < 8 || p[0] != '=' || p[1] != '?')
		return 0;
	const char *cs = p + 2;
	size_t room = (size_t)(w->end - cs);
	const char *q1 = memchr(cs, '?', room < WORD_CHARSET_MAX + 1 ? room : WORD_CHARSET_MAX + 1);
	if (!q1 || w->end - q1 < 4 || q1[2] != '?')
		return 0;
	char enc = (char)toupper((unsigned char)q1[1]);
	const char *text = q1 + 3, *end = next_qe(w, text);
	if (!end || (enc != 'B' && enc != 'Q') || end - text > WORD_TEXT_MAX)
		return 0;
	char charset[WORD_CHARSET_MAX + 1];
	memcpy(charset, cs, (size_t)(q1 - cs));
	charset[q1 - cs] = '\0';
	char *star = strchr(charset, '*');	/* RFC 2231 language suffix */
	if (star)
		*star = '\0';
	char raw[WORD_TEXT_MAX];
	size_t n = enc == 'B' ? b64_decode(text, (size_t)(end - text), raw)
			      : q_decode(text, (size_t)(end - text), raw);
	char *u = word_to_utf8(w, charset, raw, n);
	strbuf_adds(out, u);
	free(u);
	return (size_t)(end + 2 - p);
}

char *mime_decode_words(const char *s)
{
	size_t len = strlen(s);
	struct strbuf out = { 0 };
	strbuf_room(&out, len);	/* decoding mostly shrinks: one allocation */
	struct words w = { .s = s, .end = s + len, .cd = (iconv_t)-1 };
	for (size_t i = 0; i < len;) {
		size_t used = decode_word(&w, s + i, &out);
		if (used) {
			i += used;
			/* whitespace between two encoded words is dropped */
			size_t j = i;
			while (j < len && (s[j] == ' ' || s[j] == '\t'))
				j++;
			if (j + 1 < len && s[j] == '=' && s[j + 1] == '?')
				i = j;
			continue;
		}
		strbuf_addc(&out, s[i++]);
	}
	if (w.cd != (iconv_t)-1)
		iconv_close(w.cd);
	return strbuf_take(&out);
}

/* ---- RFC 2231 parameters: name*=charset'lang'%XX, name*0*=..., name*1=... ---- */

#define P2231_MAX_SECTION 999	/* continuation numbers beyond this are ignored */
#define P2231_MAX_VALUES 16	/* values decoded per parameter list (iconv is not free) */

/* Is pn an RFC 2231 name ("base*", "base*N", "base*N*")? Sets the base
 * length, the section (-1 for "base*") and whether the value is extended
 * (charset'lang'%XX). */
static bool p2231_split(const char *pn, size_t *blen, int *section, bool *ext)
{
	const char *star = strchr(pn, '*');
	if (!star || star == pn)
		return false;
	*blen = (size_t)(star - pn);
	const char *r = star + 1;
	if (!*r) {
		*section = -1;
		*ext = true;
		return true;
	}
	int num = 0, digits = 0;
	for (; isdigit((unsigned char)*r) && digits < 4; r++, digits++)
		num = num * 10 + (*r - '0');
	if (!digits || num > P2231_MAX_SECTION || (digits > 1 && star[1] == '0'))
		return false;
	*ext = *r == '*';
	if (*ext)
		r++;
	*section = num;
	return *r == '\0';
}

/* The parameter of ps that is section `section` of base (bl octets). */
static const struct mime_param *p2231_find(const struct mime_param *ps, size_t n, const char *base,
					   size_t bl, int section, bool *ext)
{
	for (size_t i = 0; i < n; i++) {
		size_t l;
		int sec;
		if (p2231_split(ps[i].name, &l, &sec, ext) && l == bl && sec == section &&
		    !strncasecmp(ps[i].name, base, bl))
			return &ps[i];
	}
	return NULL;
}

/* Append value v to acc: an extended one is %XX-decoded (RFC 2231 4). */
static void p2231_append(struct evbuffer *acc, const char *v, bool ext)
{
	for (; *v; v++) {
		if (ext && *v == '%' && mime_hex_value(v[1]) >= 0 && mime_hex_value(v[2]) >= 0) {
			char c = (char)(mime_hex_value(v[1]) * 16 + mime_hex_value(v[2]));
			if (c)	/* %00 would end the C string: dropped */
				evbuffer_add(acc, &c, 1);
			v += 2;
		} else {
			evbuffer_add(acc, v, 1);
		}
	}
}

/* The RFC 2231 value of base: its sections joined in order (up to the first
 * missing one), %XX undone, converted from the charset named by the first
 * section to UTF-8. malloc'd; NULL when base has no RFC 2231 form or the
 * charset is unknown. */
static char *p2231_value(const struct mime_param *ps, size_t n, const char *base, size_t bl)
{
	struct evbuffer *acc = evbuffer_new();
	char charset[65] = "";
	bool ext, any = false;
	const struct mime_param *p = p2231_find(ps, n, base, bl, -1, &ext);
	for (int sec = p ? -1 : 0; sec <= P2231_MAX_SECTION; sec++) {
		if (sec >= 0 && !(p = p2231_find(ps, n, base, bl, sec, &ext)))
			break;
		const char *v = p->value;
		const char *q1 = strchr(v, '\''), *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
		if (ext && sec <= 0 && q2) {	/* charset'language'value */
			size_t cl = (size_t)(q1 - v) < 64 ? (size_t)(q1 - v) : 64;
			memcpy(charset, v, cl);
			charset[cl] = '\0';
			v = q2 + 1;
		}
		p2231_append(acc, v, ext);
		any = true;
		if (sec < 0)
			break;	/* "name*" stands alone */
	}
	char *u = NULL;
	if (any) {
		size_t len = evbuffer_get_length(acc);
		const char *bytes = len ? (const char *)evbuffer_pullup(acc, -1) : "";
		u = mime_to_utf8(charset, bytes, len);
	}
	evbuffer_free(acc);
	return u;
}

static bool p2231_named(const struct mime_param *out, size_t nout, const char *base, size_t bl)
{
	for (size_t k = 0; k < nout; k++)
		if (strlen(out[k].name) == bl && !strncasecmp(out[k].name, base, bl))
			return true;
	return false;
}

void mime_params_fold(struct mime_param **ps, size_t *n)
{
	struct mime_param *in = *ps, *out = NULL;
	size_t nin = *n, nout = 0, ndecoded = 0;
	for (size_t i = 0; i < nin; i++) {
		size_t bl;
		int sec;
		bool ext, rfc2231 = p2231_split(in[i].name, &bl, &sec, &ext);
		if (!rfc2231)
			bl = strlen(in[i].name);
		char *v = NULL;
		if (rfc2231 && ndecoded < P2231_MAX_VALUES && !p2231_named(out, nout, in[i].name, bl))
			v = p2231_value(in, nin, in[i].name, bl);
		else if (!rfc2231 && ndecoded < P2231_MAX_VALUES)
			v = p2231_value(in, nin, in[i].name, bl);	/* NULL unless also name* */
		ndecoded += v != NULL;
		out = xrealloc(out, (nout + 1) * sizeof *out);
		if (v) {		/* the decoded form, once, under the plain name */
			out[nout].name = xstrndup(in[i].name, bl);
			out[nout++].value = v;
		} else if (!rfc2231 || !p2231_named(out, nout, in[i].name, bl)) {
			out[nout].name = xstrdup(in[i].name);	/* plain, or undecodable: as written */
			out[nout++].value = xstrdup(in[i].value);
		}
		/* else a further section of a value already decoded */
	}
	for (size_t i = 0; i < nin; i++) {
		free(in[i].name);
		free(in[i].value);
	}
	free(in);
	*ps = out;
	*n = nout;
}

char *mime_param_decoded(const struct mime_param *ps, size_t n, const char *name)
{
	char *v = p2231_value(ps, n, name, strlen(name));
	if (v)
		return v;
	for (size_t i = 0; i < n; i++)
		if (!strcasecmp(ps[i].name, name))
			return mime_decode_words(ps[i].value);
	return NULL;
}

char *mime_part_binary(const struct mime_msg *m, const struct mime_part *p, size_t *outlen)
{
	const char *b = m->buf + p->body_off;
	size_t n = p->body_len;
	struct mstream_dec d;
	if (!mstream_dec_init(&d, p->enc))
		return NULL;
	char *out = xmalloc(n + MSTREAM_DEC_SLACK + 1);
	*outlen = mstream_dec_run(&d, b, n, true, out);
	out[*outlen] = '\0';
	return out;
}

char *mime_body_text(const struct mime_msg *m, const struct mime_part *p, size_t *outlen)
{
	const char *b = m->buf + p->body_off;
	size_t n = p->body_len > DECODE_MAX ? DECODE_MAX : p->body_len;
	char *raw = xmalloc(n + MSTREAM_DEC_SLACK + 1);
	size_t rn;
	struct mstream_dec d;
	if (mstream_dec_init(&d, p->enc)) {
		rn = mstream_dec_run(&d, b, n, true, raw);
	} else {	/* an unknown encoding is searched as written */
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
