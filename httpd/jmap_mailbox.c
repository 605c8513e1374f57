/* jmap_mailbox.c — Mailbox/get, /changes, /query, /queryChanges, /set
 * (RFC 8621 2) over the account's Maildir++ folders. */
#include "httpd/jmap.h"
#include "httpd/jmap_util.h"
#include "httpd/journal.h"
#include "httpd/sess.h"
#include "common/mailstore.h"
#include "common/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NAME_MAX_BYTES 255	/* maxSizeMailboxName */

static const char *const props[] = { "id", "name", "parentId", "role", "sortOrder",
				     "totalEmails", "unreadEmails", "totalThreads",
				     "unreadThreads", "myRights", "isSubscribed", NULL };

static int sort_order(const char *role)
{
	static const char *const order[] = { "inbox", "drafts", "sent", "archive", "junk", "trash" };
	for (size_t i = 0; role && i < ARRAY_LEN(order); i++)
		if (!strcmp(role, order[i]))
			return (int)i + 1;
	return 10;
}

static json_t *mailbox_json(const struct folder *f)
{
	bool inbox = f->role && !strcmp(f->role, "inbox");
	json_t *rights = json_pack("{s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b, s:b}",
				   "mayReadItems", 1, "mayAddItems", 1, "mayRemoveItems", 1,
				   "maySetSeen", 1, "maySetKeywords", 1, "mayCreateChild", 1,
				   "mayRename", !inbox, "mayDelete", !inbox, "maySubmit", 1);
	return json_pack("{s:s, s:o, s:o, s:o, s:i, s:i, s:i, s:i, s:i, s:o, s:b}", "id", f->id,
			 "name", json_text(f->display),
			 "parentId", *f->parent ? json_string(f->parent) : json_null(),
			 "role", f->role ? json_string(f->role) : json_null(),
			 "sortOrder", sort_order(f->role), "totalEmails", (int)f->total,
			 "unreadEmails", (int)f->unread, "totalThreads", (int)f->threads,
			 "unreadThreads", (int)f->unread_threads, "myRights", rights,
			 "isSubscribed", f->subscribed);
}

static void mailbox_get(struct jcall *c, json_t *args)
{
	static const char *const known[] = { "accountId", "ids", "properties", NULL };
	json_t *ids, *pr;
	if (!jmap_account_ok(c, args) || !jmap_args_known(c, args, known) ||
	    !jmap_get_args(c, args, &ids, &pr, props))
		return;
	const struct account *a = &c->s->acct;
	json_t *list = json_array(), *nf = json_array();
	if (!ids) {
		for (size_t i = 0; i < a->nf; i++)
			json_array_append_new(list, jmap_pick(mailbox_json(&a->f[i]), pr));
	} else {
		size_t i;
		json_t *v;
		json_array_foreach(ids, i, v) {
			const struct folder *f = account_folder(a, json_string_value(v));
			json_array_append_new(f ? list : nf, f ? jmap_pick(mailbox_json(f), pr)
								: json_incref(v));
		}
	}
	char *state = jmap_type_state("Mailbox");
	jmap_reply(c, "Mailbox/get", json_pack("{s:s, s:s, s:o, s:o}", "accountId", c->s->account,
					       "state", state, "list", list, "notFound", nf));
	free(state);
	json_decref(ids);
	json_decref(pr);
}

static void mailbox_changes(struct jcall *c, json_t *args)
{
	jmap_changes(c, args, "Mailbox", true);
}

/* ---- query ---- */

/* Does folder f match the filter (a FilterOperator or FilterCondition)?
 * -1: the filter is malformed. */
static int matches(const struct account *a, const struct folder *f, json_t *flt)
{
	if (!flt || json_is_null(flt))
		return 1;
	if (!json_is_object(flt))
		return -1;
	json_t *op = json_object_get(flt, "operator");
	if (op) {
		const char *o = json_string_value(op);
		json_t *conds = json_object_get(flt, "conditions");
		if (!o || !json_is_array(conds))
			return -1;
		bool and = !strcmp(o, "AND"), or = !strcmp(o, "OR"), not = !strcmp(o, "NOT");
		if (!and && !or && !not)
			return -1;
		size_t i;
		json_t *sub;
		int any = 0, all = 1;
		json_array_foreach(conds, i, sub) {
			int m = matches(a, f, sub);
			if (m < 0)
				return -1;
			any |= m;
			all &= m;
		}
		return and ? all : or ? any : !any;
	}
	const char *key;
	json_t *v;
	json_object_foreach(flt, key, v) {
		if (!strcmp(key, "parentId")) {
			if (!(json_is_null(v) ? !*f->parent : json_is_string(v) &&
			      !strcmp(json_string_value(v), f->parent)))
				return json_is_null(v) || json_is_string(v) ? 0 : -1;
		} else if (!strcmp(key, "name")) {
			if (!json_is_string(v))
				return -1;
			if (!strcasestr(f->display, json_string_value(v)))
				return 0;
		} else if (!strcmp(key, "role")) {
			if (!json_is_null(v) && !json_is_string(v))
				return -1;
			if (json_is_null(v) ? f->role != NULL
					    : !f->role || strcmp(f->role, json_string_value(v)))
				return 0;
		} else if (!strcmp(key, "hasAnyRole")) {
			if (!json_is_boolean(v))
				return -1;
			if (json_is_true(v) != (f->role != NULL))
				return 0;
		} else if (!strcmp(key, "isSubscribed")) {
			if (!json_is_boolean(v))
				return -1;
			if (json_is_true(v) != f->subscribed)
				return 0;
		} else {
			return -2;	/* unsupported condition */
		}
	}
	return 1;
}

static json_t *sort_spec;
static const struct account *sort_acct;

static int cmp_folders(const void *pa, const void *pb)
{
	const struct folder *a = *(const struct folder *const *)pa, *b = *(const struct folder *const *)pb;
	size_t i;
	json_t *s;
	json_array_foreach(sort_spec, i, s) {
		const char *prop = json_string_value(json_object_get(s, "property"));
		json_t *asc = json_object_get(s, "isAscending");
		int r = !strcmp(prop, "sortOrder") ? sort_order(a->role) - sort_order(b->role)
						    : strcmp(a->display, b->display);
		if (r)
			return asc && json_is_false(asc) ? -r : r;
	}
	return strcmp(a->name, b->name);
}

static bool valid_sort(json_t *sort)
{
	if (!sort || json_is_null(sort))
		return true;
	if (!json_is_array(sort))
		return false;
	size_t i;
	json_t *s;
	json_array_foreach(sort, i, s) {
		const char *p = json_string_value(json_object_get(s, "property"));
		if (!p || (strcmp(p, "sortOrder") && strcmp(p, "name")))
			return false;
	}
	return true;
}

/* Parents before children, siblings in sort order (sortAsTree). */
static void tree_order(const struct folder **in, size_t n, const char *parent, json_t *out,
		       bool filter_tree, json_t *filter, const struct account *a, int depth)
{
	for (size_t i = 0; i < n && depth < 64; i++) {
		if (strcmp(in[i]->parent, parent))
			continue;
		bool m = matches(a, in[i], filter) == 1;
		if (m)
			json_array_append_new(out, json_string(in[i]->id));
		if (m || !filter_tree)
			tree_order(in, n, in[i]->id, out, filter_tree, filter, a, depth + 1);
	}
}

/* The full result of a Mailbox query, or NULL after answering an error. */
static json_t *query_ids(struct jcall *c, json_t *args)
{
	const struct account *a = &c->s->acct;
	json_t *filter = json_object_get(args, "filter"), *sort = json_object_get(args, "sort");
	if (!valid_sort(sort)) {
		jmap_error(c, "unsupportedSort", NULL);
		return NULL;
	}
	for (size_t i = 0; i < a->nf; i++) {
		int m = matches(a, &a->f[i], filter);
		if (m < 0) {
			jmap_error(c, m == -2 ? "unsupportedFilter" : "invalidArguments", "filter");
			return NULL;
		}
	}
	const struct folder **all = xcalloc(a->nf + 1, sizeof *all);
	for (size_t i = 0; i < a->nf; i++)
		all[i] = &a->f[i];
	sort_spec = json_is_array(sort) ? sort : NULL;
	sort_acct = a;
	qsort(all, a->nf, sizeof *all, cmp_folders);
	json_t *ids = json_array();
	if (json_is_true(json_object_get(args, "sortAsTree")) ||
	    json_is_true(json_object_get(args, "filterAsTree"))) {
		tree_order(all, a->nf, "", ids, json_is_true(json_object_get(args, "filterAsTree")),
			   filter, a, 0);
	} else {
		for (size_t i = 0; i < a->nf; i++)
			if (matches(a, all[i], filter) == 1)
				json_array_append_new(ids, json_string(all[i]->id));
	}
	free(all);
	return ids;
}

static void mailbox_query(struct jcall *c, json_t *args)
{
	static const char *const known[] = { "accountId", "filter", "sort", "position", "anchor",
					     "anchorOffset", "limit", "calculateTotal",
					     "sortAsTree", "filterAsTree", NULL };
	jmap_query_method(c, args, "Mailbox", known, query_ids, false);
}

static void mailbox_query_changes(struct jcall *c, json_t *args)
{
	static const char *const known[] = { "accountId", "filter", "sort", "sinceQueryState",
					     "maxChanges", "upToId", "calculateTotal", NULL };
	jmap_query_method(c, args, "Mailbox", known, query_ids, true);
}

const struct jmap_method jmap_mailbox_methods[] = {
	{ "Mailbox/get", CAP_MAIL, mailbox_get },
	{ "Mailbox/changes", CAP_MAIL, mailbox_changes },
	{ "Mailbox/query", CAP_MAIL, mailbox_query },
	{ "Mailbox/queryChanges", CAP_MAIL, mailbox_query_changes },
	{ "Mailbox/set", CAP_MAIL, jmap_mailbox_set },
	{ NULL, NULL, NULL },
};
