/* downgrade.c — RFC 6152 downgrade: when mail sent with BODY=8BITMIME must go
 * to a server without 8BITMIME, every MIME leaf whose body has 8-bit bytes is
 * re-encoded as quoted-printable (RFC 2045 6.7) and its Content-Transfer-Encoding
 * changed; multiparts and message/rfc822 are walked recursively (bounded). */
#include "deliverd/remote_int.h"
#include "common/strbuf.h"
#include "common/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_DEPTH 20

static bool has_8bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

/* Length of the header block including the empty line that ends it, or all
 * of s; *sep: the length of that empty line (CRLF 2, a bare LF 1, none 0).
 * The first empty line ends it, whatever ended the line before: searching
 * for CRLF CRLF alone missed "field LF CRLF", and made the end move once
 * a field was removed. */
static size_t header_len(const char *s, size_t n, size_t *sep)
{
	for (size_t i = 0; i < n;) {	/* i: the start of a line */
		if (s[i] == '\n' || (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n')) {
			*sep = s[i] == '\n' ? 1 : 2;
			return i + *sep;
		}
		const char *lf = memchr(s + i, '\n', n - i);
		if (!lf)
			break;
		i = (size_t)(lf - s) + 1;
	}
	*sep = 0;
	return n;
}

/* Value of header field name (unfolded, first occurrence) into val. */
static bool header_value(const char *h, size_t hl, const char *name, char *val, size_t vlen)
{
	size_t nl = strlen(name);
	for (size_t i = 0; i < hl; ) {
		const char *eol = memchr(h + i, '\n', hl - i);
		size_t end = eol ? (size_t)(eol - h) + 1 : hl;
		if (end - i > nl && !strncasecmp(h + i, name, nl) && h[i + nl] == ':') {
			size_t o = 0;
			for (size_t k = i + nl + 1; k < hl && o + 1 < vlen; k++) {
				if (h[k] == '\r' || h[k] == '\n') {
					if (h[k] == '\n' && k + 1 < hl && (h[k + 1] == ' ' || h[k + 1] == '\t'))
						continue;	/* folded */
					if (h[k] == '\n')
						break;
					continue;
				}
				val[o++] = h[k];
			}
			val[o] = '\0';
			char *t = str_trim(val);
			memmove(val, t, strlen(t) + 1);
			return true;
		}
		i = end;
	}
	return false;
}

/* Copy the header (hl bytes, the last sep of them its empty line) without its
 * Content-Transfer-Encoding field, then add ours before the empty line. */
static void put_header_with_cte(struct strbuf *o, const char *h, size_t hl, size_t sep,
				const char *cte)
{
	size_t body_sep = sep;
	size_t fields = hl - body_sep;
	bool skipping = false;
	for (size_t i = 0; i < fields; ) {
		const char *eol = memchr(h + i, '\n', fields - i);
		size_t end = eol ? (size_t)(eol - h) + 1 : fields;
		bool cont = h[i] == ' ' || h[i] == '\t';
		if (!cont)
			skipping = end - i > 26 && !strncasecmp(h + i, "Content-Transfer-Encoding:", 26);
		if (!skipping)
			strbuf_add(o, h + i, end - i);
		i = end;
	}
	strbuf_add(o, "Content-Transfer-Encoding: ", 27);
	strbuf_adds(o, cte);
	strbuf_add(o, "\r\n", 2);
	strbuf_add(o, h + fields, body_sep);
}

static void qp_encode(struct strbuf *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '\r' && i + 1 < n && s[i + 1] == '\n') {
			strbuf_add(o, "\r\n", 2);
			i++;
			col = 0;
			continue;
		}
		bool at_eol = i + 1 >= n || s[i + 1] == '\r';
		char enc[3];
		size_t len = 1;
		if ((ch >= 33 && ch <= 126 && ch != '=') || ((ch == ' ' || ch == '\t') && !at_eol)) {
			enc[0] = (char)ch;
		} else {
			enc[0] = '=';
			enc[1] = hex[ch >> 4];
			enc[2] = hex[ch & 15];
			len = 3;
		}
		if (col + len > 75) {
			strbuf_add(o, "=\r\n", 3);	/* soft line break */
			col = 0;
		}
		strbuf_add(o, enc, len);
		col += len;
	}
}

static void boundary_of(const char *ctype, char *b, size_t blen)
{
	b[0] = '\0';
	const char *p = ctype;
	while ((p = strcasestr(p, "boundary="))) {
		if (p == ctype || p[-1] == ';' || p[-1] == ' ' || p[-1] == '\t')
			break;
		p++;
	}
	if (!p)
		return;
	p += 9;
	size_t n = 0;
	if (*p == '"') {
		p++;
		while (p[n] && p[n] != '"')
			n++;
	} else {
		while (p[n] && p[n] != ';' && !isspace((unsigned char)p[n]))
			n++;
	}
	if (n < blen) {
		memcpy(b, p, n);
		b[n] = '\0';
	}
}

static void entity(struct strbuf *o, const char *s, size_t n, int depth);

/* Walk a multipart body line by line: delimiter lines ("--boundary", RFC 2046
 * 5.1.1) are copied, the CRLF (or bare LF) before each belongs to the delimiter, the parts
 * between them are entities of their own; preamble and epilogue are copied. */
static void multipart(struct strbuf *o, const char *body, size_t n, const char *boundary, int depth)
{
	size_t bl = strlen(boundary);
	const char *end = body + n, *seg = body, *ls = body;
	bool in_part = false;
	while (ls < end) {
		const char *lf = memchr(ls, '\n', (size_t)(end - ls));
		const char *le = lf ? lf + 1 : end;
		if ((size_t)(le - ls) >= bl + 2 && ls[0] == '-' && ls[1] == '-' &&
		    !memcmp(ls + 2, boundary, bl)) {
			const char *cend = ls;
			if (cend - seg >= 2 && cend[-2] == '\r' && cend[-1] == '\n')
				cend -= 2;
			else if (cend - seg >= 1 && cend[-1] == '\n')
				cend -= 1;	/* a bare LF too: left in the part, it
						 * would be encoded as =0A and the
						 * delimiter would no longer start a line */
			if (in_part)
				entity(o, seg, (size_t)(cend - seg), depth + 1);
			else
				strbuf_add(o, seg, (size_t)(cend - seg));
			strbuf_add(o, cend, (size_t)(le - cend));	/* CRLF + delimiter line */
			bool closing = (size_t)(le - ls) >= bl + 4 && ls[bl + 2] == '-' && ls[bl + 3] == '-';
			if (closing) {
				strbuf_add(o, le, (size_t)(end - le));
				return;
			}
			seg = le;
			in_part = true;
		}
		ls = le;
	}
	if (in_part)
		entity(o, seg, (size_t)(end - seg), depth + 1);
	else
		strbuf_add(o, seg, (size_t)(end - seg));
}

static void entity(struct strbuf *o, const char *s, size_t n, int depth)
{
	size_t sep;
	size_t hl = header_len(s, n, &sep);
	char ctype[512] = "text/plain", cte[64] = "7bit";
	header_value(s, hl, "Content-Type", ctype, sizeof ctype);
	header_value(s, hl, "Content-Transfer-Encoding", cte, sizeof cte);
	const char *body = s + hl;
	size_t blen = n - hl;
	if (depth > MAX_DEPTH || !has_8bit(body, blen)) {
		strbuf_add(o, s, n);
		return;
	}
	if (!strncasecmp(ctype, "multipart/", 10)) {
		char b[75];
		boundary_of(ctype, b, sizeof b);
		strbuf_add(o, s, hl);
		if (b[0])
			multipart(o, body, blen, b, depth);
		else
			strbuf_add(o, body, blen);
		return;
	}
	if (!strncasecmp(ctype, "message/rfc822", 14)) {
		put_header_with_cte(o, s, hl, sep, "7bit");
		entity(o, body, blen, depth + 1);
		return;
	}
	if (!strcasecmp(cte, "base64") || !strcasecmp(cte, "quoted-printable")) {
		strbuf_add(o, s, n);	/* already 7-bit encoded; 8-bit bytes would be garbage */
		return;
	}
	put_header_with_cte(o, s, hl, sep, "quoted-printable");
	qp_encode(o, body, blen);
}

char *downgrade_8bit(const char *msg, size_t len, size_t *outlen)
{
	struct strbuf o = { 0 };
	entity(&o, msg, len, 0);
	strbuf_add(&o, "", 0);
	o.p[o.len] = '\0';
	*outlen = o.len;
	return o.p;
}
