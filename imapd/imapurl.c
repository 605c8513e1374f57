/* imapurl.c — parsing IMAP URLs (RFC 5092, with RFC 4467's URLAUTH). */
#include "imapd/imapurl.h"
#include "common/mime.h"
#include "common/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void imap_url_free(struct imap_url *u)
{
	free(u->user);
	free(u->host);
	free(u->mailbox);
	free(u->section);
	free(u->access);
	free(u->mech);
	free(u->token);
	memset(u, 0, sizeof *u);
}

/* %-decode [s, s + n); NULL on a bad escape or a decoded NUL. */
static char *pct_decode(const char *s, size_t n)
{
	char *out = xmalloc(n + 1), *o = out;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			*o++ = s[i];
			continue;
		}
		int hi = i + 2 < n ? mime_hex_value((unsigned char)s[i + 1]) : -1;
		int lo = i + 2 < n ? mime_hex_value((unsigned char)s[i + 2]) : -1;
		int c = hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
		if (c <= 0) {
			free(out);
			return NULL;
		}
		*o++ = (char)c;
		i += 2;
	}
	*o = '\0';
	return out;
}

/* Only printable ASCII without space, quotes or backslash may appear. */
static bool url_chars_ok(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || *s == '"' || *s == '\\')
			return false;
	return true;
}

static bool nz_number(const char *s, size_t n, uint32_t *out)
{
	uint64_t v;
	char buf[16];
	if (n == 0 || n >= sizeof buf || s[0] == '0')
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (strspn(buf, "0123456789") != n || !parse_u64(buf, UINT32_MAX, &v))
		return false;
	*out = (uint32_t)v;
	return true;
}

/* partial-range = number ["." nz-number] */
static bool partial_range(const char *s, size_t n, struct imap_url *u)
{
	char buf[48];
	if (n == 0 || n >= sizeof buf)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	char *dot = strchr(buf, '.');
	if (dot)
		*dot++ = '\0';
	if (!*buf || strspn(buf, "0123456789") != strlen(buf) || !parse_u64(buf, UINT32_MAX, &u->pstart))
		return false;
	if (dot && (!*dot || *dot == '0' || strspn(dot, "0123456789") != strlen(dot) ||
		    !parse_u64(dot, UINT32_MAX, &u->plen)))
		return false;
	u->partial = true;
	return true;
}

/* RFC 3339 date-time: 2024-05-01T10:00:00[.frac](Z|+hh:mm|-hh:mm) */
static int64_t rfc3339(const char *s, size_t n)
{
	char buf[64];
	if (n >= sizeof buf)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	struct tm tm = { 0 };
	int used = 0;
	if (sscanf(buf, "%4d-%2d-%2d%*[Tt]%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &used) != 6 || used < 19)
		return -1;
	const char *p = buf + used;
	if (*p == '.')
		for (p++; isdigit((unsigned char)*p); p++)
			;
	long off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int hh, mm;
		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2 || strlen(p) != 6 || hh > 23 || mm > 59)
			return -1;
		off = (hh * 60L + mm) * 60 * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return -1;
	}
	if (*p || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon--;
	return (int64_t)timegm(&tm) - off;
}

/* ";URLAUTH=" access [":" mech ":" token] (value = what follows "=") */
static bool urlauth_value(const char *v, size_t n, size_t v_off, struct imap_url *u)
{
	const char *colon = memchr(v, ':', n);
	size_t alen = colon ? (size_t)(colon - v) : n;
	if (!alen || !(u->access = pct_decode(v, alen)))
		return false;
	u->rump_len = v_off + alen;
	if (!colon)
		return true;
	const char *mech = colon + 1, *end = v + n;
	const char *c2 = memchr(mech, ':', (size_t)(end - mech));
	if (!c2 || c2 == mech || end - c2 - 1 < 32)
		return false;
	u->mech = xstrndup(mech, (size_t)(c2 - mech));
	u->token = xstrndup(c2 + 1, (size_t)(end - c2 - 1));
	for (const char *t = u->token; *t; t++)
		if (!isxdigit((unsigned char)*t))
			return false;
	for (const char *m = u->mech; *m; m++)
		if (!isalnum((unsigned char)*m) && *m != '-' && *m != '.')
			return false;
	return true;
}

/* The URL's parameters in their order: UIDVALIDITY (right after the
 * mailbox), /;UID, /;SECTION, /;PARTIAL, ;EXPIRE, ;URLAUTH. A value ends at
 * the next ";" (or the "/" before it). */
static bool params(const char *url, const char *p, struct imap_url *u)
{
	static const struct { const char *key; bool slash; } order[] = {
		{ "UIDVALIDITY", false }, { "UID", true }, { "SECTION", true },
		{ "PARTIAL", true }, { "EXPIRE", false }, { "URLAUTH", false },
	};
	size_t next = 0;
	while (*p) {
		bool slash = *p == '/';
		if (slash)
			p++;
		if (*p != ';')
			return false;
		const char *eq = strchr(++p, '=');
		if (!eq)
			return false;
		size_t klen = (size_t)(eq - p), k;
		for (k = next; k < ARRAY_LEN(order); k++)
			if (strlen(order[k].key) == klen && !strncasecmp(p, order[k].key, klen))
				break;
		if (k == ARRAY_LEN(order) || order[k].slash != slash)
			return false;
		const char *v = eq + 1, *e = v;
		while (*e && *e != ';' && !(e[0] == '/' && e[1] == ';'))
			e++;
		size_t n = (size_t)(e - v);
		bool ok;
		switch (k) {
		case 0: ok = nz_number(v, n, &u->uidvalidity); break;
		case 1: ok = nz_number(v, n, &u->uid); break;
		case 2: ok = n && (u->section = pct_decode(v, n)) != NULL; break;
		case 3: ok = partial_range(v, n, u); break;
		case 4: ok = (u->expire = rfc3339(v, n)) >= 0; break;
		default: ok = urlauth_value(v, n, (size_t)(v - url), u) && !*e; break;
		}
		if (!ok || (k > 1 && !u->uid))
			return false;
		next = k + 1;
		p = e;
	}
	return u->uid != 0;
}

/* "//" user [";AUTH=" x] "@" host [":" port] up to the next "/" */
static const char *server(const char *p, struct imap_url *u)
{
	const char *slash = strchr(p, '/');
	const char *at = slash ? memchr(p, '@', (size_t)(slash - p)) : NULL;
	if (!slash || !at || at == p || at + 1 == slash)
		return NULL;
	const char *semi = memchr(p, ';', (size_t)(at - p));
	const char *uend = semi ? semi : at;
	if (uend == p || !(u->user = pct_decode(p, (size_t)(uend - p))))
		return NULL;
	const char *colon = memchr(at + 1, ':', (size_t)(slash - at - 1));
	u->host = xstrndup(at + 1, (size_t)((colon ? colon : slash) - at - 1));
	return *u->host ? slash : NULL;
}

int imap_url_parse(const char *s, struct imap_url *u)
{
	memset(u, 0, sizeof *u);
	u->expire = -1;
	if (strlen(s) > IMAP_URL_MAX || !url_chars_ok(s))
		return -1;
	const char *p = s;
	if (!strncasecmp(p, "imap://", 7) && !(p = server(p + 7, u)))
		goto bad;
	if (*p != '/')
		goto bad;
	p++;
	/* the mailbox runs to the first ";", less a "/" that begins "/;UID" */
	const char *semi = strchr(p, ';');
	if (!semi)
		goto bad;
	const char *mend = semi > p && semi[-1] == '/' ? semi - 1 : semi;
	if (mend == p || !(u->mailbox = pct_decode(p, (size_t)(mend - p))) || !params(s, mend, u))
		goto bad;
	return 0;
bad:
	imap_url_free(u);
	return -1;
}

char *imap_url_owner(const struct imap_url *u)
{
	if (!u->user)
		return NULL;
	if (strchr(u->user, '@'))
		return xstrdup(u->user);
	return xasprintf("%s@%s", u->user, u->host);
}
