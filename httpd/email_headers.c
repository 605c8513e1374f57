/* email_headers.c — header fields of an Email in the parsed forms of RFC
 * 8621 4.1.2 (Raw, Text, Addresses, GroupedAddresses, MessageIds, Date,
 * URLs), and the header:Name:asForm:all properties. */
#include "httpd/email.h"
#include "httpd/jmap_util.h"
#include "common/maildate.h"
#include "common/mime.h"
#include "common/mime_addr.h"
#include "common/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define IDS_MAX 1000	/* Message-IDs or URLs read from one field */

/* Unfolded value: trimmed, runs of whitespace one space. */
static char *squash(const char *s)
{
	char *out = xmalloc(strlen(s) + 1), *o = out;
	bool space = false;
	for (; *s; s++) {
		if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
			space = o != out;
		} else {
			if (space)
				*o++ = ' ';
			space = false;
			*o++ = *s;
		}
	}
	*o = '\0';
	return out;
}

static json_t *as_text(const char *raw)
{
	char *d = mime_decode_words(raw);
	char *t = squash(d ? d : raw);
	json_t *j = json_text(t);
	free(t);
	free(d);
	return j;
}

static json_t *address(const struct mime_addr *a)
{
	char *name = a->name ? mime_decode_words(a->name) : NULL;
	char *clean = name ? squash(name) : NULL;
	char *email = xasprintf("%s@%s", a->mailbox ? a->mailbox : "", a->host ? a->host : "");
	json_t *o = json_pack("{s:o, s:o}", "name", clean && *clean ? json_text(clean) : json_null(),
			      "email", json_text(email));
	free(email);
	free(clean);
	free(name);
	return o;
}

/* Addresses, ungrouped (grouped: [{name, addresses}], members of no group
 * gathered in groups with a null name). */
static json_t *addresses(const char *raw, bool grouped)
{
	struct mime_addr *a;
	size_t n = mime_addr_parse(raw, &a);
	json_t *flat = json_array(), *groups = json_array(), *cur = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!a[i].host && a[i].mailbox) {	/* group start */
			char *gn = mime_decode_words(a[i].mailbox);
			cur = json_pack("{s:o, s:[]}", "name", json_text(gn ? gn : a[i].mailbox),
					"addresses");
			json_array_append_new(groups, cur);
			free(gn);
			continue;
		}
		if (!a[i].host && !a[i].mailbox) {	/* group end */
			cur = NULL;
			continue;
		}
		json_array_append_new(flat, address(&a[i]));
		if (!cur) {
			cur = json_pack("{s:n, s:[]}", "name", "addresses");
			json_array_append_new(groups, cur);
		}
		json_array_append_new(json_object_get(cur, "addresses"), address(&a[i]));
	}
	mime_addr_free(a, n);
	if (grouped) {
		json_decref(flat);
		return groups;
	}
	json_decref(groups);
	return flat;
}

/* The <...> items of a value (Message-IDs, List-* URLs); NULL when none. */
static json_t *bracketed(const char *raw, bool urls)
{
	json_t *a = json_array();
	const char *p = raw;
	while (json_array_size(a) < IDS_MAX && (p = strchr(p, '<'))) {
		const char *e = strchr(p, '>');
		if (!e)
			break;
		char *item = xstrndup(p + 1, (size_t)(e - p - 1));
		char *s = squash(item);
		if (*s && (urls || !strchr(s, ' ')))
			json_array_append_new(a, json_text(s));
		free(s);
		free(item);
		p = e + 1;
	}
	if (!json_array_size(a)) {
		json_decref(a);
		return json_null();
	}
	return a;
}

static json_t *as_date(const char *raw)
{
	int64_t t;
	int off;
	if (!maildate_parse(raw, &t, &off))
		return json_null();
	char buf[32];
	maildate_rfc3339(t, off, false, buf);
	return json_string(buf);
}

/* The raw value unfolded (CR and LF dropped) and trimmed, as the parsed
 * forms read it; malloc'd. */
static char *unfold(const char *raw)
{
	char *out = xmalloc(strlen(raw) + 1), *o = out;
	for (const char *p = raw; *p; p++)
		if (*p != '\r' && *p != '\n')
			*o++ = *p;
	*o = '\0';
	char *t = str_trim(out);
	memmove(out, t, strlen(t) + 1);
	return out;
}

static json_t *parsed_form(const char *raw, const char *form)
{
	if (!strcmp(form, "Text"))
		return as_text(raw);
	if (!strcmp(form, "Addresses") || !strcmp(form, "GroupedAddresses"))
		return addresses(raw, form[0] == 'G');
	if (!strcmp(form, "MessageIds"))
		return bracketed(raw, false);
	if (!strcmp(form, "Date"))
		return as_date(raw);
	if (!strcmp(form, "URLs"))
		return bracketed(raw, true);
	return NULL;
}

/* raw: the octets after the colon up to the field's final CRLF (RFC 8621
 * 4.1.2.1), which the Raw form gives as they are. */
json_t *email_header_form(const char *raw, const char *form)
{
	if (!strcmp(form, "Raw"))
		return json_text(raw);
	char *v = unfold(raw);
	json_t *out = parsed_form(v, form);
	free(v);
	return out;
}

struct collect {
	const char *name;	/* NULL: every field */
	json_t *values;		/* raw values, or {name, value} objects */
};

static int take(const char *name, const char *value, void *arg)
{
	struct collect *c = arg;
	if (!c->name && json_array_size(c->values) >= MIME_MAX_FIELDS)
		return 1;	/* a header of many short fields lists no more */
	if (!c->name)
		json_array_append_new(c->values, json_pack("{s:o, s:o}", "name", json_text(name),
							   "value", json_text(value)));
	else if (!strcasecmp(name, c->name))
		json_array_append_new(c->values, json_string(value ? value : ""));
	return 0;
}

json_t *email_headers(const char *hdr, size_t len)
{
	struct collect c = { NULL, json_array() };
	mime_header_each_raw(hdr, len, take, &c);
	return c.values;
}

json_t *email_header_prop(const char *hdr, size_t len, const char *prop)
{
	if (strncmp(prop, "header:", 7))
		return NULL;
	char *spec = xstrdup(prop + 7), *save = NULL;
	char *name = strtok_r(spec, ":", &save), *form = "Raw";
	bool all = false;
	for (char *w = strtok_r(NULL, ":", &save); w; w = strtok_r(NULL, ":", &save)) {
		if (!strcmp(w, "all"))
			all = true;
		else if (!strncmp(w, "as", 2) && !all)
			form = w + 2;
		else
			name = NULL;	/* malformed */
	}
	json_t *probe = name && *name ? email_header_form("", form) : NULL;
	if (!probe) {
		free(spec);
		return NULL;
	}
	json_decref(probe);
	struct collect c = { name, json_array() };
	mime_header_each_raw(hdr, len, take, &c);
	json_t *out;
	if (all) {
		out = json_array();
		size_t i;
		json_t *v;
		json_array_foreach(c.values, i, v)
			json_array_append_new(out, email_header_form(json_string_value(v), form));
	} else {
		size_t n = json_array_size(c.values);
		out = n ? email_header_form(json_string_value(json_array_get(c.values, n - 1)), form)
			: json_null();
	}
	json_decref(c.values);
	free(spec);
	return out;
}
