/* mboxname.c — mailbox names on the wire. On disk, and with IMAP4rev1
 * clients, a name is what the client sent: modified UTF-7 (RFC 3501 5.1.3)
 * for anything beyond ASCII. An IMAP4rev2 session speaks UTF-8 (RFC 9051
 * 5.1): its names are converted to the stored form on the way in and back on
 * the way out, with iconv's UTF-7-IMAP. */
#include "imapd/commands.h"
#include "common/mime.h"
#include "common/util.h"

#include <iconv.h>
#include <stdlib.h>
#include <string.h>

/* Nothing to convert: ASCII without '&' is the same in both forms. */
static bool same_in_both(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80 || *s == '&')
			return false;
	return true;
}

/* Strict conversion: NULL on any invalid or incomplete sequence, or when the
 * result would hold a NUL. */
static char *convert(const char *to, const char *from, const char *s)
{
	iconv_t cd = iconv_open(to, from);
	if (cd == (iconv_t)-1)
		return NULL;
	size_t n = strlen(s), cap = n * 4 + 16, left = cap - 1;
	char *out = xmalloc(cap), *o = out, *in = (char *)s;
	bool ok = iconv(cd, &in, &n, &o, &left) != (size_t)-1 &&
		  iconv(cd, NULL, NULL, &o, &left) != (size_t)-1;
	iconv_close(cd);
	*o = '\0';
	if (!ok || strlen(out) != (size_t)(o - out)) {
		free(out);
		return NULL;
	}
	return out;
}

char *mbox_from_utf8(const char *name)
{
	return same_in_both(name) ? xstrdup(name) : convert("UTF-7-IMAP", "UTF-8", name);
}

char *mbox_to_utf8(const char *name)
{
	if (same_in_both(name))
		return xstrdup(name);
	char *u = convert("UTF-8", "UTF-7-IMAP", name);
	/* only the one canonical encoding counts (RFC 3501 5.1.3): iconv also
	 * takes an unterminated shift or ASCII encoded in base64 */
	char *back = u ? convert("UTF-7-IMAP", "UTF-8", u) : NULL;
	if (u && (!back || strcmp(back, name))) {
		free(u);
		u = NULL;
	}
	free(back);
	return u;
}

char *mbox_display(const struct session *s, const char *stored)
{
	if (!s->rev2)
		return xstrdup(stored);
	char *u = mbox_to_utf8(stored);
	return u ? u : xstrdup(stored);	/* another tool stored it in raw 8-bit */
}

void s_mailbox(const struct session *s, struct evbuffer *b, const char *stored)
{
	char *d = mbox_display(s, stored);
	bool ctl = false;
	for (const char *p = d; *p; p++)
		ctl |= (unsigned char)*p < 0x20 || *p == 0x7f;
	char *check = s->rev2 && !ctl && !same_in_both(d) ? mbox_from_utf8(d) : NULL;
	if (check) {
		/* valid UTF-8: IMAP4rev2 allows it in a quoted string */
		evbuffer_add(b, "\"", 1);
		for (const char *p = d; *p; p++) {
			if (*p == '"' || *p == '\\')
				evbuffer_add(b, "\\", 1);
			evbuffer_add(b, p, 1);
		}
		evbuffer_add(b, "\"", 1);
	} else {
		imap_quote(b, d, strlen(d));
	}
	free(check);
	free(d);
}
