/* strbuf.c — the growable byte buffer (see strbuf.h). */
#include "common/strbuf.h"
#include "common/util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

size_t strbuf_grow_cap(size_t cap, size_t need)
{
	if (need == SIZE_MAX)
		return 0;	/* no room for the NUL */
	need++;
	if (need <= cap)
		return cap;
	size_t next = cap < 64 ? 64 : cap;
	while (next < need) {
		if (next > SIZE_MAX / 2)
			return need;	/* doubling would wrap: exactly what is needed */
		next *= 2;
	}
	return next;
}

char *strbuf_room(struct strbuf *b, size_t n)
{
	if (n > SIZE_MAX - b->len)
		fatal("strbuf: %zu + %zu bytes overflows the size (bug)", b->len, n);
	size_t cap = strbuf_grow_cap(b->cap, b->len + n);
	if (!cap)
		fatal("strbuf: %zu + %zu bytes overflows the size (bug)", b->len, n);
	if (cap != b->cap || !b->p) {
		if (b->sensitive)
			b->p = xrealloc_wipe(b->p, b->cap, b->p ? b->len + 1 : 0, cap);
		else
			b->p = xrealloc(b->p, cap);
		b->cap = cap;
		b->p[b->len] = '\0';	/* p non-NULL: always a C string */
	}
	return b->p + b->len;
}

void strbuf_commit(struct strbuf *b, size_t n)
{
	if (n > b->cap - 1 - b->len)
		fatal("strbuf: committed %zu bytes past the room (bug)", n);
	b->len += n;
	b->p[b->len] = '\0';
}

void strbuf_add(struct strbuf *b, const char *s, size_t n)
{
	char *d = strbuf_room(b, n);
	if (n)
		memcpy(d, s, n);
	strbuf_commit(b, n);
}

void strbuf_addc(struct strbuf *b, char c)
{
	strbuf_add(b, &c, 1);
}

void strbuf_adds(struct strbuf *b, const char *s)
{
	strbuf_add(b, s, strlen(s));
}

void strbuf_drop(struct strbuf *b, size_t n)
{
	if (n >= b->len) {
		strbuf_reset(b);
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	if (b->sensitive)	/* the tail now holds a second copy of moved bytes */
		explicit_bzero(b->p + b->len - n, n);
	b->len -= n;
	b->p[b->len] = '\0';
}

void strbuf_reset(struct strbuf *b)
{
	if (b->p && b->sensitive)
		explicit_bzero(b->p, b->len);
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

char *strbuf_take(struct strbuf *b)
{
	char *p = b->p ? b->p : xstrdup("");
	*b = (struct strbuf){ .sensitive = b->sensitive };
	return p;
}

void strbuf_free(struct strbuf *b)
{
	if (b->sensitive)
		free_wipe(b->p, b->cap);
	else
		free(b->p);
	*b = (struct strbuf){ .sensitive = b->sensitive };
}
