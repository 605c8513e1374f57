/* jmap_snippet.c — SearchSnippet/get (RFC 8621 5.1): the subject and a
 * fragment of the text body of each email with what the filter's text,
 * subject and body conditions searched for marked (<mark>), as HTML. The
 * matching is Email/query's: the condition's whole string, found without
 * regard to ASCII case. */
#include "httpd/jmap.h"
#include "httpd/email.h"
#include "httpd/jmap_util.h"
#include "httpd/sess.h"
#include "common/util.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#define FRAGMENT_BEFORE 60	/* bytes of context before the first match */
#define FRAGMENT_LEN 255	/* and the fragment's length at most */
#define MAX_TERMS 32
#define MAX_DEPTH 16

struct terms {
	const char *t[MAX_TERMS];
	size_t n;
	bool subject_only[MAX_TERMS];	/* from a "subject" condition */
};

/* Collect the strings of text/subject/body conditions; false when the
 * filter is not a filter. */
static bool collect(json_t *f, struct terms *t, int depth)
{
	if (!json_is_object(f) || depth > MAX_DEPTH)
		return false;
	json_t *conds = json_object_get(f, "conditions");
	if (json_object_get(f, "operator")) {
		size_t i;
		json_t *v;
		if (!json_is_array(conds))
			return false;
		json_array_foreach(conds, i, v)
			if (!collect(v, t, depth + 1))
				return false;
		return true;
	}
	static const char *const keys[] = { "text", "subject", "body" };
	for (size_t i = 0; i < ARRAY_LEN(keys); i++) {
		const char *s = json_string_value(json_object_get(f, keys[i]));
		if (s && *s && t->n < MAX_TERMS) {
			t->subject_only[t->n] = i == 1;
			t->t[t->n++] = s;
		}
	}
	return true;
}

/* The first match of any term in [s, s+len) at or after from: its offset
 * and length, false when none. */
static bool first_match(const struct terms *t, bool body, const char *s, size_t len, size_t from,
			size_t *at, size_t *mlen)
{
	bool found = false;
	for (size_t i = 0; i < t->n; i++) {
		size_t n = strlen(t->t[i]);
		if (body && t->subject_only[i])
			continue;
		for (size_t p = from; p + n <= len && (!found || p < *at); p++)
			if (!strncasecmp(s + p, t->t[i], n)) {
				*at = p;
				*mlen = n;
				found = true;
				break;
			}
	}
	return found;
}

static void add_escaped(struct evbuffer *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '<': evbuffer_add(b, "&lt;", 4); break;
		case '>': evbuffer_add(b, "&gt;", 4); break;
		case '&': evbuffer_add(b, "&amp;", 5); break;
		case '"': evbuffer_add(b, "&quot;", 6); break;
		case '\r': break;
		case '\n': evbuffer_add(b, " ", 1); break;
		default: evbuffer_add(b, s + i, 1);
		}
	}
}

/* [s, s+len) as HTML with the matches marked; JSON null when none. */
static json_t *highlight(const struct terms *t, bool body, const char *s, size_t len)
{
	size_t at = 0, n = 0, pos = 0;
	if (!s || !first_match(t, body, s, len, 0, &at, &n))
		return json_null();
	struct evbuffer *b = evbuffer_new();
	do {
		add_escaped(b, s + pos, at - pos);
		evbuffer_add(b, "<mark>", 6);
		add_escaped(b, s + at, n);
		evbuffer_add(b, "</mark>", 7);
		pos = at + n;
	} while (first_match(t, body, s, len, pos, &at, &n));
	add_escaped(b, s + pos, len - pos);
	json_t *out = json_textn((const char *)evbuffer_pullup(b, -1), evbuffer_get_length(b));
	evbuffer_free(b);
	return out;
}

/* Back to the start of a UTF-8 character. */
static size_t char_start(const char *s, size_t i)
{
	while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80)
		i--;
	return i;
}

/* A fragment of the body text around its first match. */
static json_t *body_fragment(const struct terms *t, const char *text, size_t len)
{
	size_t at, n;
	if (!text || !first_match(t, true, text, len, 0, &at, &n))
		return json_null();
	size_t from = char_start(text, at > FRAGMENT_BEFORE ? at - FRAGMENT_BEFORE : 0);
	size_t to = from + FRAGMENT_LEN < len ? from + FRAGMENT_LEN : len;
	if (to < at + n)
		to = at + n < len ? at + n : len;
	to = to < len ? char_start(text, to) : len;
	while (from < at && strchr(" \t\r\n", text[from]))
		from++;
	while (to > at + n && strchr(" \t\r\n", text[to - 1]))
		to--;
	return highlight(t, true, text + from, to - from);
}

/* The text of the first textBody part, from the Email object. */
static const char *text_body(json_t *obj)
{
	json_t *tb = json_array_get(json_object_get(obj, "textBody"), 0);
	const char *part = json_string_value(json_object_get(tb, "partId"));
	json_t *vals = json_object_get(obj, "bodyValues");
	return part ? json_string_value(json_object_get(json_object_get(vals, part), "value")) : NULL;
}

static json_t *snippet(struct sess *s, const struct terms *t, const char *id)
{
	struct email e;
	if (!email_find(s, id, &e))
		return NULL;
	struct email_opts o = { .props = json_pack("[s, s, s]", "subject", "textBody", "bodyValues"),
				.text = true, .max_value = 64 * 1024 };
	json_t *obj = email_json(s, &e, &o);
	email_close(&e);
	json_decref(o.props);
	const char *subj = json_string_value(json_object_get(obj, "subject"));
	const char *text = text_body(obj);
	json_t *out = json_pack("{s:s, s:o, s:o}", "emailId", id, "subject",
				highlight(t, false, subj, subj ? strlen(subj) : 0), "preview",
				body_fragment(t, text, text ? strlen(text) : 0));
	json_decref(obj);
	return out;
}

static void snippet_get(struct jcall *c, json_t *args)
{
	static const char *const known[] = { "accountId", "filter", "emailIds", NULL };
	if (!jmap_account_ok(c, args) || !jmap_args_known(c, args, known))
		return;
	json_t *filter = json_object_get(args, "filter"), *ids = json_object_get(args, "emailIds");
	struct terms t = { .n = 0 };
	if ((filter && !json_is_null(filter) && !collect(filter, &t, 0)) || !json_is_array(ids)) {
		jmap_error(c, "invalidArguments", "filter or emailIds");
		return;
	}
	if (json_array_size(ids) > c->s->conf->lim.max_objects_in_get) {
		jmap_error(c, "requestTooLarge", "more ids than maxObjectsInGet");
		return;
	}
	json_t *list = json_array(), *nf = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		const char *id = json_is_string(v) ? jmap_resolve_id(c, json_string_value(v)) : NULL;
		json_t *sn = id ? snippet(c->s, &t, id) : NULL;
		json_array_append_new(sn ? list : nf, sn ? sn : json_incref(v));
	}
	if (!json_array_size(nf)) {
		json_decref(nf);
		nf = json_null();	/* RFC 8621 5.1: null when every id was found */
	}
	jmap_reply(c, "SearchSnippet/get", json_pack("{s:s, s:o, s:o}", "accountId", c->s->account,
						     "list", list, "notFound", nf));
}

const struct jmap_method jmap_snippet_methods[] = {
	{ "SearchSnippet/get", CAP_MAIL, snippet_get },
	{ NULL, NULL, NULL },
};
