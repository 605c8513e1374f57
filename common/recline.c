/* recline.c — report record lines (see recline.h). */
#include "common/recline.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void recline_begin(struct recline *o, const char *tag, size_t cap)
{
	o->p = xmalloc(cap);
	o->cap = cap;
	o->len = strlen(tag) < cap ? strlen(tag) : cap;
	memcpy(o->p, tag, o->len);
}

void recline_field(struct recline *o, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	if (o->len + 1 < o->cap)
		o->p[o->len++] = '\t';
	for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
		bool plain = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
			     (*q >= '0' && *q <= '9') || strchr(".-_@+=!:/,;", *q);
		if (o->len + 4 >= o->cap) {
			o->len = o->cap;	/* too long: recline_end refuses the line */
			return;
		}
		if (plain) {
			o->p[o->len++] = (char)*q;
		} else {
			o->p[o->len++] = '%';
			o->p[o->len++] = hex[*q >> 4];
			o->p[o->len++] = hex[*q & 15];
		}
	}
}

void recline_num(struct recline *o, unsigned long long v)
{
	char b[24];
	snprintf(b, sizeof b, "%llu", v);
	recline_field(o, b);
}

char *recline_end(struct recline *o)
{
	if (o->len + 2 > o->cap) {
		free(o->p);
		o->p = NULL;
		return NULL;
	}
	o->p[o->len++] = '\n';
	o->p[o->len] = '\0';
	return o->p;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10
	     : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Unescape field f (length n) into dst (cap bytes); false if malformed or long. */
static bool unescape(const char *f, size_t n, char *dst, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = f[i];
		if (c == '%') {
			if (i + 2 >= n)
				return false;
			int h = hexval(f[i + 1]), l = hexval(f[i + 2]);
			if (h < 0 || l < 0 || (h == 0 && l == 0))
				return false;
			c = (char)(h * 16 + l);
			i += 2;
		}
		if (o + 1 >= cap)
			return false;
		dst[o++] = c;
	}
	dst[o] = '\0';
	return true;
}

int recline_split(const char *line, const char *tag, size_t maxlen, char *f, size_t fieldcap,
		  int maxf)
{
	size_t len = strnlen(line, maxlen + 1), tl = strlen(tag);
	if (len > maxlen || len <= tl || strncmp(line, tag, tl) || line[tl] != '\t')
		return -1;
	if (line[len - 1] == '\n')
		len--;
	int n = 0;
	const char *p = line + tl + 1, *end = line + len;
	for (;;) {
		const char *tab = memchr(p, '\t', (size_t)(end - p));
		const char *fe = tab ? tab : end;
		if (n >= maxf || !unescape(p, (size_t)(fe - p), f + (size_t)n * fieldcap, fieldcap))
			return -1;
		n++;
		if (!tab)
			return n;
		p = tab + 1;
	}
}
