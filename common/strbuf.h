/* strbuf.h — the one growable byte buffer: carries its length, grows by
 * doubling, refuses a size whose arithmetic would wrap, and keeps a NUL after
 * the last byte so text in it can be used as a C string. */
#ifndef TERN_STRBUF_H
#define TERN_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

/* Zero-initialise; p stays NULL until something is added or reserved, and
 * once it is not NULL, p[len] is a NUL. Release with strbuf_free (or free(p) and forget it).
 * A buffer that may hold a credential is marked sensitive (before anything
 * goes in): then growing wipes the old block, dropped and reset bytes are
 * wiped, and strbuf_free wipes the whole block (util.h free_wipe); what
 * strbuf_take hands out is the caller's to wipe. */
struct strbuf {
	char *p;
	size_t len, cap;
	bool sensitive;
};

/* The capacity to grow cap to so that `need` bytes fit: at least doubled
 * (amortised linear appends), at least 64; 0 when need + 1 (the NUL) or
 * the doubling cannot be represented. Exposed for the unit test. */
size_t strbuf_grow_cap(size_t cap, size_t need);

/* Room for n more bytes after len (and the NUL); returns p + len. A size
 * that would wrap is a bug of the caller's bounds: fatal, like xmalloc. */
char *strbuf_room(struct strbuf *b, size_t n);
/* After writing n bytes into strbuf_room's space: count them, NUL after. */
void strbuf_commit(struct strbuf *b, size_t n);

void strbuf_add(struct strbuf *b, const char *s, size_t n);
void strbuf_addc(struct strbuf *b, char c);
void strbuf_adds(struct strbuf *b, const char *s);

/* Forget the first n bytes (consumed input); the rest moves to the front. */
void strbuf_drop(struct strbuf *b, size_t n);
/* Empty it, keeping the memory for reuse. */
void strbuf_reset(struct strbuf *b);
/* The bytes as a malloc'd NUL-terminated string ("" if none); b is empty after. */
char *strbuf_take(struct strbuf *b);
void strbuf_free(struct strbuf *b);

#endif
