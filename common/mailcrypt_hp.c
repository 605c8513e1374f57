/* mailcrypt_hp.c — header protection for a message sealed at rest (RFC 9788,
 * "injected headers" with hp="cipher").
 *
 * The inner header is the original one, field for field and byte for byte
 * (line ends made CRLF), with two additions a client needs to show the real
 * header: hp="cipher" on its Content-Type (RFC 9788 2.1.1) and one HP-Outer
 * field per field left outside (2.2), so a client knows what was visible.
 * The outer header keeps only what the mail store and IMAP need: our own
 * Received (the first field), Date, From, To, Cc, Message-ID, In-Reply-To,
 * References, and Subject as "[...]" unless the site keeps it. */
#include "common/mailcrypt_int.h"
#include "common/strbuf.h"
#include "common/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Fields that stay outside, as they are (besides our Received and Subject). */
static const char *const clear_fields[] = {
	"Date", "From", "To", "Cc", "Message-ID", "In-Reply-To", "References",
};

/* Add with line ends made LF (stored form) or CRLF (canonical form). */
static void sb_add_ends(struct strbuf *b, const char *p, size_t len, bool crlf)
{
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		if (p[i] != '\n')
			continue;
		bool cr = i > 0 && p[i - 1] == '\r';
		strbuf_add(b, p + run, i - run - (cr ? 1 : 0));
		strbuf_adds(b, crlf ? "\r\n" : "\n");
		run = i + 1;
	}
	strbuf_add(b, p + run, len - run);
}

/* One header field as it stands: its bytes with continuation lines and line
 * ends; namelen 0 for a line that is no field. */
struct hfield {
	const char *p;
	size_t len, namelen;
};

static size_t after_line(const char *b, size_t len, size_t pos)
{
	const char *lf = memchr(b + pos, '\n', len - pos);
	return lf ? (size_t)(lf - b) + 1 : len;
}

static bool at_empty_line(const char *b, size_t len, size_t pos)
{
	return b[pos] == '\n' || (b[pos] == '\r' && pos + 1 < len && b[pos + 1] == '\n');
}

/* The field at *pos; false at the empty line ending the header or at the end
 * of the buffer. */
static bool next_field(const char *b, size_t len, size_t *pos, struct hfield *f)
{
	size_t p = *pos;
	if (p >= len || at_empty_line(b, len, p))
		return false;
	size_t start = p;
	do
		p = after_line(b, len, p);
	while (p < len && (b[p] == ' ' || b[p] == '\t'));
	f->p = b + start;
	f->len = p - start;
	f->namelen = 0;
	for (size_t i = 0; i < f->len && f->p[i] > ' ' && f->p[i] < 127; i++) {
		if (f->p[i] == ':') {
			f->namelen = i;
			break;
		}
	}
	*pos = p;
	return true;
}

static bool field_is(const struct hfield *f, const char *name)
{
	return f->namelen == strlen(name) && !strncasecmp(f->p, name, f->namelen);
}

static bool is_clear_field(const struct hfield *f)
{
	for (size_t i = 0; i < ARRAY_LEN(clear_fields); i++)
		if (field_is(f, clear_fields[i]))
			return true;
	return false;
}

/* The field's value unfolded (line ends dropped), malloc'd. */
static char *field_value(const struct hfield *f)
{
	char *v = xmalloc(f->len + 1);
	size_t o = 0;
	for (size_t i = f->namelen + 1; i < f->len; i++)
		if (f->p[i] != '\r' && f->p[i] != '\n')
			v[o++] = f->p[i];
	v[o] = 0;
	return v;
}

/* Does the Content-Type value v have a parameter name? Its value (unquoted,
 * cut to size) in out. */
static bool param_value(const char *v, const char *name, char *out, size_t size)
{
	size_t nl = strlen(name);
	for (const char *s = strchr(v, ';'); s; s = strchr(s, ';')) {
		s++;
		while (*s == ' ' || *s == '\t')
			s++;
		if (strncasecmp(s, name, nl))
			continue;
		const char *e = s + nl;
		while (*e == ' ' || *e == '\t')
			e++;
		if (*e != '=')
			continue;
		e++;
		while (*e == ' ' || *e == '\t')
			e++;
		bool q = *e == '"';
		e += q;
		size_t o = 0;
		for (; *e && (q ? *e != '"' : (*e != ';' && *e != ' ' && *e != '\t')); e++)
			if (o + 1 < size)
				out[o++] = *e;
		out[o] = 0;
		return true;
	}
	return false;
}

/* Did the message arrive encrypted? Its top-level type says so: PGP/MIME (and
 * any RFC 1847 multipart/encrypted), or S/MIME enveloped data (an
 * application/pkcs7-mime without smime-type is enveloped data in practice). */
static bool type_is_encrypted(const char *v)
{
	while (*v == ' ' || *v == '\t')
		v++;
	size_t n = strcspn(v, "; \t(");
	char st[64];
	if (n == 19 && !strncasecmp(v, "multipart/encrypted", n))
		return true;
	bool p7 = (n == 22 && !strncasecmp(v, "application/pkcs7-mime", n)) ||
		  (n == 24 && !strncasecmp(v, "application/x-pkcs7-mime", n));
	if (!p7)
		return false;
	if (!param_value(v, "smime-type", st, sizeof st))
		return true;
	return !strcasecmp(st, "enveloped-data") || !strcasecmp(st, "authEnveloped-data");
}

/* The Content-Type field with hp="cipher" added before its line end. */
static void add_marked_type(struct strbuf *in, const struct hfield *f)
{
	size_t len = f->len;
	while (len > 0 && (f->p[len - 1] == '\n' || f->p[len - 1] == '\r'))
		len--;
	sb_add_ends(in, f->p, len, true);
	char *v = field_value(f);
	char hp[16];
	if (!param_value(v, "hp", hp, sizeof hp))
		strbuf_adds(in, "; hp=\"cipher\"");
	free(v);
	strbuf_adds(in, "\r\n");
}

/* What stays outside, and the HP-Outer record of it inside. */
static void add_outer(struct strbuf *out, struct strbuf *hpo, const struct hfield *f, bool keep_subject,
		      bool *subject_done)
{
	if (field_is(f, "Subject")) {
		if (keep_subject) {
			sb_add_ends(out, f->p, f->len, false);
			strbuf_adds(hpo, "HP-Outer: ");
			sb_add_ends(hpo, f->p, f->len, true);
		} else if (!*subject_done) {
			strbuf_adds(out, "Subject: " MC_SUBJECT_PLACEHOLDER "\n");
			strbuf_adds(hpo, "HP-Outer: Subject: " MC_SUBJECT_PLACEHOLDER "\r\n");
		}
		*subject_done = true;
	} else if (is_clear_field(f)) {
		sb_add_ends(out, f->p, f->len, false);
		strbuf_adds(hpo, "HP-Outer: ");
		sb_add_ends(hpo, f->p, f->len, true);
	}
}

/* The outer and inner headers of a header of hdrlen bytes at buf. */
static void build_protected(const char *buf, size_t hdrlen, bool keep_subject, struct mc_header *h)
{
	struct strbuf out = { 0 }, in = { 0 }, hpo = { 0 };
	struct hfield f;
	bool subject_done = false, have_type = false;
	size_t pos = 0;
	for (bool first = true; next_field(buf, hdrlen, &pos, &f); first = false) {
		if (first && field_is(&f, "Received"))
			sb_add_ends(&out, f.p, f.len, false);	/* ours: smtpd and sendmail write it first */
		else
			add_outer(&out, &hpo, &f, keep_subject, &subject_done);
		if (!have_type && field_is(&f, "Content-Type")) {
			char *v = field_value(&f);
			h->encrypted = type_is_encrypted(v);
			free(v);
			add_marked_type(&in, &f);
			have_type = true;
		} else {
			sb_add_ends(&in, f.p, f.len, true);
		}
		if (f.len && f.p[f.len - 1] != '\n')
			strbuf_adds(&in, "\r\n");	/* a last line without its line end */
	}
	if (hpo.len)
		strbuf_add(&in, hpo.p, hpo.len);
	if (!have_type)
		strbuf_adds(&in, "Content-Type: text/plain; charset=us-ascii; hp=\"cipher\"\r\n");
	strbuf_adds(&in, "\r\n");
	free(hpo.p);
	h->outer = out.p ? out.p : xstrdup("");
	h->outerlen = out.len;
	h->inner = in.p;
	h->innerlen = in.len;
}

void mc_header_build(const char *buf, size_t len, bool whole, bool keep_subject, struct mc_header *h)
{
	memset(h, 0, sizeof *h);
	struct hfield f;
	size_t pos = 0;
	while (next_field(buf, len, &pos, &f))
		;
	if (pos < len) {
		h->body_off = pos + (buf[pos] == '\r' ? 2 : 1);	/* past the empty line */
	} else if (whole) {
		h->body_off = len;	/* all header, no body */
	} else {
		/* The header does not end within the bytes we hold: no protection
		 * (the message goes inside as it is); only the placeholder outside. */
		h->outer = xstrdup(keep_subject ? "" : "Subject: " MC_SUBJECT_PLACEHOLDER "\n");
		h->outerlen = strlen(h->outer);
		h->inner = xstrdup("");
		return;
	}
	build_protected(buf, pos, keep_subject, h);
}

void mc_header_free(struct mc_header *h)
{
	free(h->outer);
	free(h->inner);
	memset(h, 0, sizeof *h);
}
