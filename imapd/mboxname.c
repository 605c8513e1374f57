/* mboxname.c — mailbox names on the wire. On disk, and with IMAP4rev1
 * clients, a name is what the client sent: modified UTF-7 (RFC 3501 5.1.3)
 * for anything beyond ASCII. An IMAP4rev2 session (RFC 9051 5.1), or one
 * that enabled UTF8=ACCEPT (RFC 6855 3), speaks UTF-8: its names are converted to the stored form on the way in and back on
 * the way out, with iconv's UTF-7-IMAP. */
#include "imapd/commands.h"
#include "common/mailstore.h"
#include "common/mime.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

char *mbox_from_utf8(const char *name)
{
	return ms_name_from_utf8(name);
}

char *mbox_to_utf8(const char *name)
{
	return ms_name_to_utf8(name);
}

char *mbox_display(const struct session *s, const char *stored)
{
	if (!s_utf8_names(s))
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
	char *check = s_utf8_names(s) && !ctl && !ms_name_plain(d) ? mbox_from_utf8(d) : NULL;
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
