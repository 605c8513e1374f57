/* casefold.c — Unicode case-insensitive substring match (casefold.h), on
 * ICU: UTF-8 to UTF-16, full case folding, NFKD, back to UTF-8. Each step
 * measures its output first (ICU's preflighting), so no length is guessed:
 * folding and decomposition may lengthen a string several times. */
#include "imapd/casefold.h"
#include "common/util.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unicode/uchar.h>
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

/* A string as UTF-16 (malloc'd), *n code units; NULL on failure. */
static UChar *to_utf16(const char *s, size_t len, int32_t *n)
{
	if (len > INT32_MAX / 2)
		return NULL;
	UErrorCode e = U_ZERO_ERROR;
	u_strFromUTF8WithSub(NULL, 0, n, s, (int32_t)len, 0xFFFD, NULL, &e);
	if (e != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(e))
		return NULL;
	UChar *u = xcalloc((size_t)*n + 1, sizeof *u);
	e = U_ZERO_ERROR;
	u_strFromUTF8WithSub(u, *n + 1, n, s, (int32_t)len, 0xFFFD, NULL, &e);
	if (U_FAILURE(e)) {
		free(u);
		return NULL;
	}
	return u;
}

/* One UTF-16 to UTF-16 step of ICU's (case folding, normalisation). */
typedef int32_t (*step_fn)(const UChar *u, int32_t n, UChar *out, int32_t cap, UErrorCode *e);

static int32_t fold_step(const UChar *u, int32_t n, UChar *out, int32_t cap, UErrorCode *e)
{
	return u_strFoldCase(out, cap, u, n, U_FOLD_CASE_DEFAULT, e);
}

static int32_t nfkd_step(const UChar *u, int32_t n, UChar *out, int32_t cap, UErrorCode *e)
{
	const UNormalizer2 *nfkd = unorm2_getNFKDInstance(e);
	return U_FAILURE(*e) ? 0 : unorm2_normalize(nfkd, u, n, out, cap, e);
}

/* step applied to u[0..n): the result (malloc'd), *out code units, after
 * measuring it; NULL on failure. */
static UChar *apply(step_fn step, const UChar *u, int32_t n, int32_t *out)
{
	UErrorCode e = U_ZERO_ERROR;
	*out = step(u, n, NULL, 0, &e);
	if (e != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(e))
		return NULL;
	UChar *r = xcalloc((size_t)*out + 1, sizeof *r);
	e = U_ZERO_ERROR;
	step(u, n, r, *out + 1, &e);
	if (U_FAILURE(e)) {
		free(r);
		return NULL;
	}
	return r;
}

static char *to_utf8(const UChar *u, int32_t n, size_t *outlen)
{
	UErrorCode e = U_ZERO_ERROR;
	int32_t len;
	u_strToUTF8(NULL, 0, &len, u, n, &e);
	if (e != U_BUFFER_OVERFLOW_ERROR && U_FAILURE(e))
		return NULL;
	char *s = xmalloc((size_t)len + 1);
	e = U_ZERO_ERROR;
	u_strToUTF8(s, len + 1, &len, u, n, &e);
	if (U_FAILURE(e)) {
		free(s);
		return NULL;
	}
	*outlen = (size_t)len;
	return s;
}

/* RFC 5051 step 1: each code point to its simple titlecase mapping
 * (UnicodeData.txt field 14, ICU's u_totitle), never longer in UTF-16: the
 * measuring call answers with the input's length. */
static int32_t title_step(const UChar *u, int32_t n, UChar *out, int32_t cap, UErrorCode *e)
{
	if (!out) {
		*e = U_BUFFER_OVERFLOW_ERROR;
		return n;
	}
	int32_t i = 0, o = 0;
	while (i < n) {
		UChar32 c;
		U16_NEXT(u, i, n, c);
		c = u_totitle(c);
		if (o + U16_LENGTH(c) > cap) {
			*e = U_BUFFER_OVERFLOW_ERROR;
			return o;
		}
		U16_APPEND_UNSAFE(out, o, c);
	}
	return o;
}

/* s[0..len) through step then NFKD, passes times, as UTF-8. */
static char *map_utf8(const char *s, size_t len, step_fn step, int passes, size_t *outlen)
{
	int32_t n;
	UChar *u = to_utf16(s, len, &n);
	for (int pass = 0; pass < passes && u; pass++) {
		int32_t nf;
		UChar *f = apply(step, u, n, &nf);
		free(u);
		u = f ? apply(nfkd_step, f, nf, &n) : NULL;
		free(f);
	}
	char *r = u ? to_utf8(u, n, outlen) : NULL;
	free(u);
	return r;
}

char *casefold_utf8(const char *s, size_t len, size_t *outlen)
{
	/* twice, as Unicode's compatibility caseless match (D146): a
	 * decomposition may uncover a letter that folds again */
	return map_utf8(s, len, fold_step, 2, outlen);
}

char *casemap_title_utf8(const char *s, size_t len, size_t *outlen)
{
	return map_utf8(s, len, title_step, 1, outlen);	/* RFC 5051 2: one pass */
}

static bool ascii(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			return false;
	return true;
}

static bool ascii_contains(const char *hay, size_t hl, const char *needle, size_t nl)
{
	/* compare in full only where the first octet matches */
	int f = tolower((unsigned char)needle[0]);
	for (size_t i = 0; i + nl <= hl; i++)
		if (tolower((unsigned char)hay[i]) == f && !strncasecmp(hay + i, needle, nl))
			return true;
	return false;
}

bool casefold_contains(const char *hay, size_t hl, const char *needle)
{
	size_t nl = strlen(needle);
	if (!nl)
		return true;
	if (ascii(needle, nl) && ascii(hay, hl))
		return ascii_contains(hay, hl, needle, nl);
	size_t fhl, fnl;
	char *fh = casefold_utf8(hay, hl, &fhl), *fn = casefold_utf8(needle, nl, &fnl);
	bool r;
	if (fh && fn)
		r = memmem(fh, fhl, fn, fnl) != NULL;
	else	/* ICU failed (out of memory): at least the ASCII answer */
		r = ascii_contains(hay, hl, needle, nl);
	free(fh);
	free(fn);
	return r;
}
