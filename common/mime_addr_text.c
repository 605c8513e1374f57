/* mime_addr_text.c — an address list written back as one line of text, the
 * form SEARCH FROM/TO/CC/BCC match against (as Dovecot does): what a header
 * says, whatever obsolete syntax, comments or folding it used to say it. */
#include "common/mime_addr.h"
#include "common/mime.h"
#include "common/strbuf.h"
#include "common/util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* A display name or group name, its RFC 2047 words decoded. */
static void add_decoded(struct strbuf *b, const char *s)
{
	if (!strstr(s, "=?")) {
		strbuf_adds(b, s);
		return;
	}
	char *d = mime_decode_words(s);
	strbuf_adds(b, d);
	free(d);
}

/* "Name <@route:mailbox@host>"; the parts the parser filled in for missing
 * ones are left out, so they match no search. */
static void add_mailbox(struct strbuf *b, const struct mime_addr *a)
{
	if (a->name && *a->name) {
		add_decoded(b, a->name);
		strbuf_addc(b, ' ');
	}
	strbuf_addc(b, '<');
	if (a->route) {
		strbuf_adds(b, a->route);
		strbuf_addc(b, ':');
	}
	if (a->mailbox && strcmp(a->mailbox, MIME_ADDR_NO_MAILBOX))
		strbuf_adds(b, a->mailbox);
	if (a->host && strcmp(a->host, MIME_ADDR_NO_HOST)) {
		strbuf_addc(b, '@');
		strbuf_adds(b, a->host);
	}
	strbuf_addc(b, '>');
}

char *mime_addr_list_text(const struct mime_addr *v, size_t n)
{
	struct strbuf b = { 0 };
	bool sep = false;
	for (size_t i = 0; i < n; i++) {
		const struct mime_addr *a = &v[i];
		bool group_end = !a->mailbox && !a->host;
		if (sep && !group_end)
			strbuf_adds(&b, ", ");
		sep = true;
		if (group_end) {
			if (b.len && b.p[b.len - 1] == ' ')
				b.p[--b.len] = '\0';	/* "empty:;" */
			strbuf_addc(&b, ';');
		} else if (!a->host) {	/* group start: its name in mailbox */
			add_decoded(&b, a->mailbox);
			strbuf_adds(&b, ": ");
			sep = false;
		} else {
			add_mailbox(&b, a);
		}
	}
	return b.p ? b.p : xstrdup("");
}

char *mime_addr_text(const char *value)
{
	struct mime_addr *v;
	size_t n = mime_addr_parse(value ? value : "", &v);
	char *r = mime_addr_list_text(v, n);
	mime_addr_free(v, n);
	return r;
}
