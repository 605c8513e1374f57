/* parse.c — SMTP command and parameter parsing (see parse.h). */
#include "smtpd/parse.h"
#include "common/queue_proto.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

static const char *const verbs[V_COUNT] = {
	[V_UNKNOWN] = "?", [V_HELO] = "HELO", [V_EHLO] = "EHLO", [V_MAIL] = "MAIL",
	[V_RCPT] = "RCPT", [V_DATA] = "DATA", [V_BDAT] = "BDAT", [V_RSET] = "RSET",
	[V_NOOP] = "NOOP", [V_QUIT] = "QUIT", [V_VRFY] = "VRFY", [V_EXPN] = "EXPN",
	[V_HELP] = "HELP", [V_STARTTLS] = "STARTTLS", [V_AUTH] = "AUTH", [V_BURL] = "BURL",
};

const char *verb_name(enum smtp_verb v)
{
	return v < V_COUNT ? verbs[v] : "?";
}

void parse_command(const char *line, struct smtp_cmd *out)
{
	size_t n = strcspn(line, " ");
	out->verb = V_UNKNOWN;
	for (int v = V_HELO; v < V_COUNT; v++) {
		if (strlen(verbs[v]) == n && !strncasecmp(line, verbs[v], n)) {
			out->verb = (enum smtp_verb)v;
			break;
		}
	}
	const char *a = line + n;
	while (*a == ' ')
		a++;
	out->arg = a;
}

/* ---- UTF-8 and character classes ---- */

bool utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	for (size_t i = 0; i < n;) {
		unsigned c = s[i];
		size_t len;
		unsigned cp;
		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return false;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) { len = 2; cp = c & 0x1f; }
		else if (c >= 0xe0 && c <= 0xef) { len = 3; cp = c & 0x0f; }
		else if (c >= 0xf0 && c <= 0xf4) { len = 4; cp = c & 0x07; }
		else return false;
		if (i + len > n)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		/* Overlong forms, surrogates, beyond U+10FFFF, C1 controls. */
		if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
			return false;
		i += len;
	}
	return true;
}

static bool is_atext(unsigned char c)
{
	return isalnum(c) || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool valid_dot_string(const char *s, size_t n, bool utf8)
{
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (s[i + 1] == '.')
				return false;
		} else if (!(is_atext(c) || (utf8 && c >= 0x80))) {
			return false;
		}
	}
	return true;
}

static bool valid_quoted(const char *s, size_t n, bool utf8)
{
	if (n < 2 || s[0] != '"' || s[n - 1] != '"')
		return false;
	for (size_t i = 1; i < n - 1; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\\') {
			if (++i >= n - 1 || (unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
				return false;
		} else if (c == '"' || c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) {
			return false;
		}
	}
	return true;
}

static bool valid_domain(const char *s, size_t n, bool utf8)
{
	if (n == 0 || n > SMTP_DOMAIN_MAX)
		return false;
	if (s[0] == '[') {	/* address literal: printable, no brackets or backslash */
		if (n < 3 || s[n - 1] != ']')
			return false;
		for (size_t i = 1; i < n - 1; i++)
			if (s[i] <= ' ' || s[i] > '~' || s[i] == '[' || s[i] == ']' || s[i] == '\\')
				return false;
		return true;
	}
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return false;
			label = 0;
		} else if (isalnum(c) || (utf8 && c >= 0x80) || (c == '-' && label > 0)) {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label > 0 && s[n - 1] != '-';
}

bool valid_mailbox(const char *s, size_t n, bool utf8)
{
	if (n > SMTP_PATH_MAX || !utf8_valid(s, n))
		return false;
	/* The domain starts after the last '@' outside a quoted local part. */
	const char *at = NULL;
	bool q = false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && q)
			i++;
		else if (s[i] == '"')
			q = !q;
		else if (s[i] == '@' && !q)
			at = s + i;
	}
	if (!at)
		return false;
	size_t ln = (size_t)(at - s);
	if (ln == 0 || ln > SMTP_LOCAL_MAX)
		return false;
	bool local_ok = s[0] == '"' ? valid_quoted(s, ln, utf8) : valid_dot_string(s, ln, utf8);
	return local_ok && valid_domain(at + 1, n - ln - 1, utf8);
}

static bool has_8bit(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

/* ---- paths and parameters ---- */

/* Parse "<[@route,@route:]mailbox>" at *pp into out; advances *pp past '>'.
 * Accepts "<>" only when null_ok and "<postmaster>" (RFC 5321 4.1.1.3). */
static enum parse_status parse_path(const char **pp, bool null_ok, char *out)
{
	const char *p = *pp;
	while (*p == ' ')	/* "FROM: <a>" is common, though not RFC 5321 */
		p++;
	if (*p != '<')
		return P_SYNTAX;
	p++;
	const char *end = p;
	bool q = false;
	for (; *end && (q || *end != '>'); end++) {
		if (*end == '\\' && q && end[1])
			end++;
		else if (*end == '"')
			q = !q;
	}
	if (*end != '>')
		return P_SYNTAX;
	if (*p == '@') {	/* obsolete source route: skip it */
		const char *colon = memchr(p, ':', (size_t)(end - p));
		if (!colon)
			return P_BAD_ADDR;
		p = colon + 1;
	}
	size_t n = (size_t)(end - p);
	*pp = end + 1;
	if (n == 0) {
		out[0] = '\0';
		return null_ok ? P_OK : P_BAD_ADDR;
	}
	if (n > SMTP_PATH_MAX)
		return P_BAD_ADDR;
	memcpy(out, p, n);
	out[n] = '\0';
	if (!null_ok && !strcasecmp(out, "postmaster"))
		return P_OK;
	/* Accept 8-bit here; whether SMTPUTF8 allows it is decided by the caller. */
	return valid_mailbox(out, n, true) ? P_OK : P_BAD_ADDR;
}

/* xtext (RFC 3461 4): printable ASCII except '+' and '=', or "+HH". */
static bool valid_xtext(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '+') {
			if (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) ||
			    !isxdigit((unsigned char)s[i + 2]) || islower((unsigned char)s[i + 1]) ||
			    islower((unsigned char)s[i + 2]))
				return false;
			i += 2;
		} else if (c < '!' || c > '~' || c == '=') {
			return false;
		}
	}
	return true;
}

/* Next "KEY[=VALUE]" parameter at *pp. Returns false at end of input. */
static bool next_param(const char **pp, char *key, size_t keylen, const char **val, size_t *vlen,
		       bool *bad)
{
	const char *p = *pp;
	*bad = false;
	while (*p == ' ')
		p++;
	if (!*p)
		return false;
	size_t n = strcspn(p, " =");
	if (n == 0 || n >= keylen) {
		*bad = true;
		n = n ? n : 1;
	} else {
		memcpy(key, p, n);
		key[n] = '\0';
	}
	p += n;
	*val = NULL;
	*vlen = 0;
	if (*p == '=') {
		p++;
		*val = p;
		*vlen = strcspn(p, " ");
		p += *vlen;
	}
	*pp = p;
	return true;
}

static bool copy_value(char *dst, size_t dstlen, const char *v, size_t n)
{
	if (!v || n == 0 || n >= dstlen)
		return false;
	memcpy(dst, v, n);
	dst[n] = '\0';
	return true;
}

static enum parse_status mail_param(struct mail_args *m, const char *k, const char *v, size_t n)
{
	char tmp[32];
	if (!strcasecmp(k, "SIZE")) {
		if (m->has_size || !copy_value(tmp, 21, v, n) || strspn(tmp, "0123456789") != n)
			return P_BAD_PARAM;
		m->has_size = true;
		m->size = 0;
		for (size_t i = 0; i < n; i++) {
			if (m->size > (UINT64_MAX - 9) / 10)
				return P_BAD_PARAM;
			m->size = m->size * 10 + (uint64_t)(tmp[i] - '0');
		}
	} else if (!strcasecmp(k, "BODY")) {
		if (m->body != BODY_NONE || !copy_value(tmp, sizeof tmp, v, n))
			return P_BAD_PARAM;
		if (!strcasecmp(tmp, "7BIT"))
			m->body = BODY_7BIT;
		else if (!strcasecmp(tmp, "8BITMIME"))
			m->body = BODY_8BITMIME;
		else
			return P_BAD_PARAM;
	} else if (!strcasecmp(k, "SMTPUTF8")) {
		if (v || m->smtputf8)
			return P_BAD_PARAM;
		m->smtputf8 = true;
	} else if (!strcasecmp(k, "RET")) {
		if (m->ret != RET_NONE || !copy_value(tmp, sizeof tmp, v, n))
			return P_BAD_PARAM;
		if (!strcasecmp(tmp, "FULL"))
			m->ret = RET_FULL;
		else if (!strcasecmp(tmp, "HDRS"))
			m->ret = RET_HDRS;
		else
			return P_BAD_PARAM;
	} else if (!strcasecmp(k, "ENVID")) {
		if (m->envid[0] || !copy_value(m->envid, sizeof m->envid, v, n) || !valid_xtext(v, n))
			return P_BAD_PARAM;
	} else if (!strcasecmp(k, "REQUIRETLS")) {
		if (v || m->requiretls)
			return P_BAD_PARAM;
		m->requiretls = true;
	} else if (!strcasecmp(k, "AUTH")) {
		/* RFC 4954 5: accepted and not trusted; we know who authenticated. */
		if (!v || n == 0 || !valid_xtext(v, n))
			return P_BAD_PARAM;
	} else {
		return P_UNKNOWN_PARAM;
	}
	return P_OK;
}

static enum parse_status parse_params(const char *p, void *args,
				      enum parse_status (*one)(void *, const char *, const char *, size_t))
{
	char key[32];
	const char *v;
	size_t n;
	bool bad;
	while (next_param(&p, key, sizeof key, &v, &n, &bad)) {
		if (bad)
			return P_UNKNOWN_PARAM;
		enum parse_status st = one(args, key, v, n);
		if (st != P_OK)
			return st;
	}
	return P_OK;
}

static enum parse_status mail_param_cb(void *a, const char *k, const char *v, size_t n)
{
	return mail_param(a, k, v, n);
}

enum parse_status parse_mail(const char *arg, struct mail_args *out)
{
	memset(out, 0, sizeof *out);
	if (strncasecmp(arg, "FROM:", 5))
		return P_SYNTAX;
	const char *p = arg + 5;
	enum parse_status st = parse_path(&p, true, out->addr);
	if (st != P_OK)
		return st;
	if (*p && *p != ' ')
		return P_SYNTAX;
	if ((st = parse_params(p, out, mail_param_cb)) != P_OK)
		return st;
	if (!out->smtputf8 && has_8bit(out->addr))
		return P_NEED_UTF8;
	return P_OK;
}

static bool parse_notify(const char *v, size_t n, unsigned *out)
{
	char tmp[64];
	if (!copy_value(tmp, sizeof tmp, v, n))
		return false;
	*out = 0;
	for (char *save = NULL, *w = strtok_r(tmp, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		unsigned bit = !strcasecmp(w, "NEVER") ? DSN_NOTIFY_NEVER :
			       !strcasecmp(w, "SUCCESS") ? DSN_NOTIFY_SUCCESS :
			       !strcasecmp(w, "FAILURE") ? DSN_NOTIFY_FAILURE :
			       !strcasecmp(w, "DELAY") ? DSN_NOTIFY_DELAY : 0;
		if (!bit || (*out & bit))
			return false;
		*out |= bit;
	}
	/* NEVER must stand alone (RFC 3461 4.1). */
	return *out && !((*out & DSN_NOTIFY_NEVER) && *out != DSN_NOTIFY_NEVER);
}

static enum parse_status rcpt_param_cb(void *a, const char *k, const char *v, size_t n)
{
	struct rcpt_args *r = a;
	if (!strcasecmp(k, "NOTIFY")) {
		if (r->notify || !parse_notify(v, n, &r->notify))
			return P_BAD_PARAM;
	} else if (!strcasecmp(k, "ORCPT")) {
		const char *semi = v ? memchr(v, ';', n) : NULL;
		if (r->orcpt[0] || !semi || semi == v ||
		    !copy_value(r->orcpt, sizeof r->orcpt, v, n) ||
		    !valid_xtext(semi + 1, n - (size_t)(semi - v) - 1))
			return P_BAD_PARAM;
	} else {
		return P_UNKNOWN_PARAM;
	}
	return P_OK;
}

enum parse_status parse_rcpt(const char *arg, bool utf8, struct rcpt_args *out)
{
	memset(out, 0, sizeof *out);
	if (strncasecmp(arg, "TO:", 3))
		return P_SYNTAX;
	const char *p = arg + 3;
	enum parse_status st = parse_path(&p, false, out->addr);
	if (st != P_OK)
		return st;
	if (*p && *p != ' ')
		return P_SYNTAX;
	if ((st = parse_params(p, out, rcpt_param_cb)) != P_OK)
		return st;
	if (!utf8 && has_8bit(out->addr))
		return P_NEED_UTF8;
	return P_OK;
}

bool parse_helo(const char *arg, char *out, size_t outlen)
{
	size_t n = strcspn(arg, " ");
	if (n == 0 || n >= outlen || n > SMTP_HELO_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)arg[i] <= ' ' || (unsigned char)arg[i] > '~')
			return false;
	memcpy(out, arg, n);
	out[n] = '\0';
	return true;
}

bool parse_bdat(const char *arg, uint64_t *size, bool *last)
{
	size_t n = strspn(arg, "0123456789");
	if (n == 0 || n > 15)	/* 15 digits: far beyond any size limit, no overflow */
		return false;
	*size = 0;
	for (size_t i = 0; i < n; i++)
		*size = *size * 10 + (uint64_t)(arg[i] - '0');
	const char *p = arg + n;
	while (*p == ' ')
		p++;
	*last = false;
	if (!strcasecmp(p, "LAST"))
		*last = true;
	else if (*p)
		return false;
	return true;
}

bool parse_burl(const char *arg, char *url, size_t urlsize, bool *last)
{
	size_t n = strcspn(arg, " ");
	if (n < 8 || n > BURL_URL_MAX || n >= urlsize || strncasecmp(arg, "imap://", 7))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)arg[i] <= 0x20 || (unsigned char)arg[i] >= 0x7f)
			return false;
	memcpy(url, arg, n);
	url[n] = '\0';
	const char *p = arg + n;
	while (*p == ' ')
		p++;
	*last = !strcasecmp(p, "LAST");
	return *last || !*p;
}

/* ---- base64 and SASL ---- */

static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z') return c - 'A';
	if (c >= 'a' && c <= 'z') return c - 'a' + 26;
	if (c >= '0' && c <= '9') return c - '0' + 52;
	if (c == '+') return 62;
	if (c == '/') return 63;
	return -1;
}

long b64_decode(const char *in, unsigned char *out, size_t outlen)
{
	size_t n = strlen(in), o = 0;
	if (n % 4)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int v[4], pad = 0;
		for (int k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)in[i + k];
			if (c == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
			} else if (pad || (v[k] = b64_val(c)) < 0) {
				return -1;
			}
		}
		/* Canonical only: the bits padding drops must be zero (RFC 4648 3.5). */
		if ((pad == 1 && (v[2] & 3)) || (pad == 2 && (v[1] & 15)))
			return -1;
		unsigned w = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];
		unsigned char b[3] = { (unsigned char)(w >> 16), (unsigned char)(w >> 8), (unsigned char)w };
		if (o + (size_t)(3 - pad) > outlen)
			return -1;
		memcpy(out + o, b, (size_t)(3 - pad));
		o += (size_t)(3 - pad);
	}
	return (long)o;
}

void b64_encode(const unsigned char *in, size_t n, char *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned w = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);
		out[o++] = t[w >> 18 & 63];
		out[o++] = t[w >> 12 & 63];
		out[o++] = i + 1 < n ? t[w >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? t[w & 63] : '=';
	}
	out[o] = '\0';
}

bool parse_sasl_plain(unsigned char *buf, size_t n, const char **user, const char **pass)
{
	unsigned char *z1 = memchr(buf, 0, n);
	if (!z1)
		return false;
	unsigned char *z2 = memchr(z1 + 1, 0, n - (size_t)(z1 + 1 - buf));
	if (!z2 || memchr(z2 + 1, 0, n - (size_t)(z2 + 1 - buf)))
		return false;
	size_t plen = n - (size_t)(z2 + 1 - buf);
	/* The caller's buffer has one spare byte for this terminator. */
	z2[1 + plen] = '\0';
	const char *authz = (const char *)buf, *authc = (const char *)z1 + 1;
	if (!*authc || plen == 0 || (*authz && strcmp(authz, authc)))
		return false;
	*user = authc;
	*pass = (const char *)z2 + 1;
	return utf8_valid(*user, strlen(*user)) && utf8_valid(*pass, plen);
}
