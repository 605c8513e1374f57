/* jmap_util.c — the shared parts of the standard methods (see jmap_util.h). */
#include "httpd/jmap_util.h"
#include "httpd/journal.h"
#include "httpd/sess.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

bool jmap_valid_id(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 255)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      *s == '-' || *s == '_'))
			return false;
	return true;
}

/* Length of the valid UTF-8 sequence at p (of at most n bytes), 0 if none. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	if (p[0] < 0x80)
		return 1;
	size_t len = p[0] >= 0xf0 && p[0] <= 0xf4 ? 4 : p[0] >= 0xe0 ? 3 : p[0] >= 0xc2 && p[0] < 0xe0 ? 2 : 0;
	if (!len || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((p[0] == 0xe0 && p[1] < 0xa0) || (p[0] == 0xed && p[1] >= 0xa0) ||	/* overlong, surrogate */
	    (p[0] == 0xf0 && p[1] < 0x90) || (p[0] == 0xf4 && p[1] >= 0x90))
		return 0;
	return len;
}

json_t *json_textn(const char *s, size_t n)
{
	json_t *j = json_stringn(s, n);	/* NULL unless valid UTF-8 without NUL */
	if (j)
		return j;
	char *out = xmalloc(n * 3 + 1), *o = out;
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		size_t l = p[i] ? utf8_seq(p + i, n - i) : 0;
		if (l) {
			memcpy(o, p + i, l);
			o += l;
			i += l;
		} else {
			memcpy(o, "\xef\xbf\xbd", 3);	/* U+FFFD for what is not UTF-8 */
			o += 3;
			i++;
		}
	}
	j = json_stringn(out, (size_t)(o - out));
	free(out);
	return j;
}

json_t *json_text(const char *s)
{
	return s ? json_textn(s, strlen(s)) : json_null();
}

const char *jmap_resolve_id(struct jcall *c, const char *id)
{
	if (id[0] != '#')
		return id;
	return json_string_value(json_object_get(c->created_ids, id + 1));
}

void jmap_created(struct jcall *c, const char *creation_id, const char *id)
{
	json_object_set_new(c->created_ids, creation_id, json_string(id));
}

bool jmap_get_args(struct jcall *c, json_t *args, json_t **ids, json_t **props,
		   const char *const *known_props)
{
	*ids = *props = NULL;
	json_t *i = json_object_get(args, "ids"), *p = json_object_get(args, "properties");
	if (i && !json_is_null(i)) {
		if (!json_is_array(i)) {
			jmap_error(c, "invalidArguments", "ids: an array or null");
			return false;
		}
		if (json_array_size(i) > c->s->conf->lim.max_objects_in_get) {
			jmap_error(c, "requestTooLarge", "more ids than maxObjectsInGet");
			return false;
		}
		*ids = json_array();
		size_t k;
		json_t *v;
		json_array_foreach(i, k, v) {
			const char *s = json_string_value(v);
			const char *r = s ? jmap_resolve_id(c, s) : NULL;
			if (!s) {
				json_decref(*ids);
				*ids = NULL;
				jmap_error(c, "invalidArguments", "ids: strings only");
				return false;
			}
			json_array_append_new(*ids, json_string(r ? r : s));
		}
	}
	if (p && !json_is_null(p)) {
		size_t k;
		json_t *v;
		bool ok = json_is_array(p);
		json_array_foreach(p, k, v) {
			const char *s = json_string_value(v);
			const char *const *kp = known_props;
			while (s && kp && *kp && strcmp(*kp, s) && !(!strncmp(s, "header:", 7) &&
								   !strcmp(*kp, "header:")))
				kp++;
			ok = ok && s && (!kp || *kp);
		}
		if (!ok) {
			json_decref(*ids);
			*ids = NULL;
			jmap_error(c, "invalidArguments", "properties: unknown property");
			return false;
		}
		*props = json_incref(p);
	}
	return true;
}

json_t *jmap_pick(json_t *obj, json_t *props)
{
	if (!props)
		return obj;
	json_t *out = json_pack("{s:O}", "id", json_object_get(obj, "id"));
	size_t k;
	json_t *p;
	json_array_foreach(props, k, p) {
		json_t *v = json_object_get(obj, json_string_value(p));
		if (v)
			json_object_set(out, json_string_value(p), v);
	}
	json_decref(obj);
	return out;
}

void jmap_changes(struct jcall *c, json_t *args, const char *type, bool counts_prop)
{
	static const char *const known[] = { "accountId", "sinceState", "maxChanges", NULL };
	if (!jmap_account_ok(c, args) || !jmap_args_known(c, args, known))
		return;
	const char *since = json_string_value(json_object_get(args, "sinceState"));
	json_t *mx = json_object_get(args, "maxChanges");
	if (!since || (mx && !json_is_null(mx) && (!json_is_integer(mx) || json_integer_value(mx) < 1))) {
		jmap_error(c, "invalidArguments", "sinceState: a string; maxChanges: a positive integer");
		return;
	}
	struct journal *j = journal_open(false);
	if (!j) {
		jmap_error(c, "serverFail", "cannot read the account's state");
		return;
	}
	struct jchanges ch;
	uint64_t max = json_is_integer(mx) ? (uint64_t)json_integer_value(mx) : 0;
	if (journal_changes(j, type, since, max, &ch) < 0) {
		jmap_error(c, "cannotCalculateChanges", NULL);
		journal_close(j);
		return;
	}
	json_t *r = json_pack("{s:s, s:s, s:s, s:b, s:O, s:O, s:O}", "accountId", c->s->account,
			      "oldState", since, "newState", ch.new_state, "hasMoreChanges", ch.more,
			      "created", ch.created, "updated", ch.updated, "destroyed", ch.destroyed);
	if (counts_prop)
		json_object_set_new(r, "updatedProperties",
				    ch.counts_only && json_array_size(ch.updated)
				    ? json_pack("[s,s,s,s]", "totalEmails", "unreadEmails", "totalThreads",
						"unreadThreads")
				    : json_null());
	char *name = xasprintf("%s/changes", type);
	jmap_reply(c, name, r);
	free(name);
	jchanges_free(&ch);
	journal_close(j);
}

static bool int_arg(json_t *args, const char *name, json_int_t def, json_int_t *out)
{
	json_t *v = json_object_get(args, name);
	*out = def;
	if (!v || json_is_null(v))
		return true;
	if (!json_is_integer(v))
		return false;
	*out = json_integer_value(v);
	return true;
}

void jmap_query_window(struct jcall *c, json_t *args, json_t *ids, const char *state,
		       bool can_changes)
{
	jmap_query_window_of(c, args, ids, json_array_size(ids), state, can_changes);
}

void jmap_query_window_of(struct jcall *c, json_t *args, json_t *ids, size_t total,
			  const char *state, bool can_changes)
{
	json_int_t pos, off, limit;
	json_t *anchor = json_object_get(args, "anchor");
	if (!int_arg(args, "position", 0, &pos) || !int_arg(args, "anchorOffset", 0, &off) ||
	    !int_arg(args, "limit", -1, &limit) || (limit < -1) ||
	    (json_object_get(args, "limit") && !json_is_null(json_object_get(args, "limit")) && limit < 0) ||
	    (anchor && !json_is_null(anchor) && !json_is_string(anchor))) {
		jmap_error(c, "invalidArguments", "position, anchor, anchorOffset or limit");
		return;
	}
	if (json_is_string(anchor)) {
		size_t i;
		json_t *v;
		pos = -1;
		json_array_foreach(ids, i, v)
			if (json_equal(v, anchor)) {
				pos = (json_int_t)i;
				break;
			}
		if (pos < 0) {
			jmap_error(c, "anchorNotFound", NULL);
			return;
		}
		pos += off;
		if (pos < 0)
			pos = 0;
	} else if (pos < 0) {
		pos = (json_int_t)total + pos;
		if (pos < 0)
			pos = 0;
	}
	json_t *window = json_array();
	for (size_t i = (size_t)pos; i < json_array_size(ids) && (limit < 0 || (json_int_t)json_array_size(window) < limit); i++)
		json_array_append(window, json_array_get(ids, i));
	json_t *r = json_pack("{s:s, s:s, s:b, s:I, s:o}", "accountId", c->s->account, "queryState",
			      state, "canCalculateChanges", can_changes, "position",
			      (json_int_t)((size_t)pos > total ? total : (size_t)pos), "ids", window);
	if (json_is_true(json_object_get(args, "calculateTotal")))
		json_object_set_new(r, "total", json_integer((json_int_t)total));
	char *name = xasprintf("%s", c->name);
	jmap_reply(c, name, r);
	free(name);
}

void jmap_query_changes(struct jcall *c, json_t *args, const char *type, json_t *ids)
{
	const char *since = json_string_value(json_object_get(args, "sinceQueryState"));
	json_t *mx = json_object_get(args, "maxChanges");
	const char *upto = json_string_value(json_object_get(args, "upToId"));
	if (!since) {
		jmap_error(c, "invalidArguments", "sinceQueryState: a string");
		return;
	}
	struct journal *j = journal_open(false);
	struct jchanges ch;
	if (!j || journal_changes(j, type, since, 0, &ch) < 0) {
		jmap_error(c, "cannotCalculateChanges", NULL);
		journal_close(j);
		return;
	}
	json_t *changed = json_array();
	json_array_extend(changed, ch.created);
	json_array_extend(changed, ch.updated);
	size_t nchg = json_array_size(changed) + json_array_size(ch.destroyed);
	if (json_is_integer(mx) && nchg > (size_t)json_integer_value(mx)) {
		jmap_error(c, "tooManyChanges", NULL);
		json_decref(changed);
		jchanges_free(&ch);
		journal_close(j);
		return;
	}
	json_t *removed = json_array(), *added = json_array();
	json_array_extend(removed, ch.updated);
	json_array_extend(removed, ch.destroyed);
	size_t i, limit = json_array_size(ids);
	json_t *v;
	json_array_foreach(ids, i, v)
		if (upto && !strcmp(json_string_value(v), upto))
			limit = i + 1;
	json_array_foreach(ids, i, v) {
		if (i >= limit)
			break;
		size_t k;
		json_t *w;
		json_array_foreach(changed, k, w)
			if (json_equal(v, w)) {
				json_array_append_new(added, json_pack("{s:O, s:I}", "id", v, "index",
								       (json_int_t)i));
				break;
			}
	}
	char *state = journal_state(j, type);
	json_t *r = json_pack("{s:s, s:s, s:s, s:o, s:o}", "accountId", c->s->account,
			      "oldQueryState", since, "newQueryState", state, "removed", removed,
			      "added", added);
	if (json_is_true(json_object_get(args, "calculateTotal")))
		json_object_set_new(r, "total", json_integer((json_int_t)json_array_size(ids)));
	jmap_reply(c, c->name, r);
	free(state);
	json_decref(changed);
	jchanges_free(&ch);
	journal_close(j);
}

bool jmap_set_check(struct jcall *c, json_t *args, const char *state)
{
	if (!jmap_account_ok(c, args))
		return false;
	json_t *cr = json_object_get(args, "create"), *up = json_object_get(args, "update");
	json_t *de = json_object_get(args, "destroy"), *in = json_object_get(args, "ifInState");
	if ((cr && !json_is_null(cr) && !json_is_object(cr)) ||
	    (up && !json_is_null(up) && !json_is_object(up)) ||
	    (de && !json_is_null(de) && !json_is_array(de)) ||
	    (in && !json_is_null(in) && !json_is_string(in))) {
		jmap_error(c, "invalidArguments", "create, update, destroy or ifInState");
		return false;
	}
	if (json_object_size(cr) + json_object_size(up) + json_array_size(de) >
	    c->s->conf->lim.max_objects_in_set) {
		jmap_error(c, "requestTooLarge", "more objects than maxObjectsInSet");
		return false;
	}
	if (json_is_string(in) && strcmp(json_string_value(in), state)) {
		jmap_error(c, "stateMismatch", NULL);
		return false;
	}
	return true;
}

json_t *jmap_set_error(const char *type, const char *desc, const char *prop)
{
	json_t *e = json_pack("{s:s}", "type", type);
	if (desc)
		json_object_set_new(e, "description", json_string(desc));
	if (prop)
		json_object_set_new(e, "properties", json_pack("[s]", prop));
	return e;
}

char *jmap_type_state(const char *type)
{
	struct journal *j = journal_open(false);
	char *s = j ? journal_state(j, type) : xstrdup("");
	journal_close(j);
	return s;
}

bool json_has_string(json_t *a, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
		if (json_is_string(v) && !strcmp(json_string_value(v), s))
			return true;
	return false;
}

void jmap_set_run(struct jcall *c, json_t *args, const char *type, const char *const *known,
		  const struct jmap_set_ops *ops)
{
	char *old = jmap_type_state(type);
	if (!jmap_args_known(c, args, known) || !jmap_set_check(c, args, old)) {
		free(old);
		return;
	}
	json_t *created = json_object(), *not_created = json_object(), *updated = json_object();
	json_t *not_updated = json_object(), *destroyed = json_array(), *not_destroyed = json_object();
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(args, "create"), k, v) {
		json_t *err = NULL, *obj = ops->create ? ops->create(c, k, v, &err)
						      : NULL;
		if (!obj && !err)
			err = jmap_set_error("forbidden", NULL, NULL);
		json_object_set_new(obj ? created : not_created, k, obj ? obj : err);
	}
	json_object_foreach(json_object_get(args, "update"), k, v) {
		const char *id = jmap_resolve_id(c, k);
		json_t *err = !id ? jmap_set_error("notFound", NULL, NULL)
			      : ops->update ? ops->update(c, id, v) : jmap_set_error("forbidden", NULL, NULL);
		json_object_set_new(err ? not_updated : updated, id ? id : k, err ? err : json_null());
	}
	size_t i;
	json_array_foreach(json_object_get(args, "destroy"), i, v) {
		const char *id = json_is_string(v) ? jmap_resolve_id(c, json_string_value(v)) : NULL;
		json_t *err = !id ? jmap_set_error("notFound", NULL, NULL)
			      : ops->destroy ? ops->destroy(c, id, args) : jmap_set_error("forbidden", NULL, NULL);
		if (err)
			json_object_set_new(not_destroyed, id ? id : "", err);
		else
			json_array_append_new(destroyed, json_string(id));
	}
	if (ops->after)
		ops->after(c);
	char *now = jmap_type_state(type);
	char *name = xasprintf("%s/set", type);
	jmap_reply(c, name, json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o}",
		"accountId", c->s->account, "oldState", old, "newState", now, "created", created,
		"notCreated", not_created, "updated", updated, "notUpdated", not_updated,
		"destroyed", destroyed, "notDestroyed", not_destroyed));
	free(name);
	free(old);
	free(now);
}

void jmap_query_method(struct jcall *c, json_t *args, const char *type, const char *const *known,
		       jmap_query_fn run, bool changes)
{
	if (!jmap_account_ok(c, args) || !jmap_args_known(c, args, known))
		return;
	json_t *ids = run(c, args);
	if (!ids)
		return;
	if (changes) {
		jmap_query_changes(c, args, type, ids);
	} else {
		char *state = jmap_type_state(type);
		jmap_query_window(c, args, ids, state, true);
		free(state);
	}
	json_decref(ids);
}
