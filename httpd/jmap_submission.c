/* jmap_submission.c — EmailSubmission/get, /changes, /query,
 * /queryChanges, /set (RFC 8621 7). A submission is sent at once (sendAt is
 * its creation, undoStatus "final": queued owns it from then on, as after
 * an SMTP 250) and kept in the journal ("O" records, journal.h) so /get,
 * /changes and /query can tell about it; the oldest beyond KEEP are
 * forgotten (destroyed, as RFC 8621 7 allows). deliveryStatus comes from
 * queued (through the front, submit.h) when /get asks for it and the
 * journal has no final one yet; a new answer is stored as an update. */
#include "httpd/account.h"
#include "httpd/jmap.h"
#include "httpd/jmap_util.h"
#include "httpd/journal.h"
#include "httpd/sess.h"
#include "httpd/submission.h"
#include "httpd/submit.h"
#include "httpd/proto.h"
#include "common/queue_proto.h"
#include "common/maildate.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TYPE "EmailSubmission"
#define INDEX_KEY "OEmailSubmission"	/* the ids, oldest first */
#define KEEP 1000

static const char *const props[] = { "id", "identityId", "emailId", "threadId", "envelope",
				     "sendAt", "undoStatus", "deliveryStatus", "dsnBlobIds",
				     "mdnBlobIds", NULL };

/* creation id -> emailId of this request's successful creations, for
 * onSuccessUpdateEmail / onSuccessDestroyEmail */
static json_t *sent_now;

static char *obj_key(const char *id)
{
	return xasprintf("%s:%s", INDEX_KEY, id);
}

static json_t *load(struct journal *j, const char *id)
{
	char *k = obj_key(id);
	json_t *o = j ? journal_get_json(j, k) : NULL;
	free(k);
	return o;
}

static json_t *index_of(struct journal *j)
{
	json_t *ids = j ? journal_get_json(j, INDEX_KEY) : NULL;
	return json_is_array(ids) ? ids : (json_decref(ids), json_array());
}

/* Keep obj (new) and record it as created; forget the oldest beyond KEEP. */
static void store(json_t *obj)
{
	struct journal *j = journal_open(true);
	if (!j)
		return;
	const char *id = json_string_value(json_object_get(obj, "id"));
	json_t *ids = index_of(j), *gone = json_array();
	char *k = obj_key(id);
	journal_put_json(j, k, obj);
	free(k);
	json_array_append_new(ids, json_string(id));
	while (json_array_size(ids) > KEEP) {
		k = obj_key(json_string_value(json_array_get(ids, 0)));
		journal_del(j, k);
		free(k);
		json_array_append(gone, json_array_get(ids, 0));
		json_array_remove(ids, 0);
	}
	journal_put_json(j, INDEX_KEY, ids);
	journal_record(j, json_pack("{s:{s:[s], s:[], s:o}}", TYPE, "c", id, "u", "d", gone));
	json_decref(ids);
	journal_close(j);
}

static json_t *create(struct jcall *c, const char *cid, json_t *obj, json_t **err)
{
	static const char *const settable[] = { "identityId", "emailId", "envelope", NULL };
	const char *k;
	json_t *v;
	json_object_foreach(obj, k, v) {
		const char *const *s = settable;
		while (*s && strcmp(*s, k))
			s++;
		if (!*s) {
			*err = jmap_set_error("invalidProperties", "server-set or unknown", k);
			return NULL;
		}
	}
	const char *ident = json_string_value(json_object_get(obj, "identityId"));
	const char *eid = json_string_value(json_object_get(obj, "emailId"));
	ident = ident ? jmap_resolve_id(c, ident) : NULL;
	eid = eid ? jmap_resolve_id(c, eid) : NULL;
	bool unavailable = false;
	char *from = ident ? jmap_identity_email(c->s, ident, &unavailable) : NULL;
	if (!from)
		*err = unavailable ? jmap_set_error("forbidden", "the user's addresses cannot be "
						    "listed now", NULL)
			: jmap_set_error("invalidProperties", "no such identity", "identityId");
	else if (!eid)
		*err = jmap_set_error("invalidProperties", "no such email", "emailId");
	json_t *env = NULL;
	char qid[65];
	if (!*err)
		*err = submission_send(c, eid, from, json_object_get(obj, "envelope"), &env, qid);
	free(from);
	if (*err)
		return NULL;
	char thread[OBJECTID_LEN + 1] = "", sent[32];
	account_thread_of(eid, thread);
	maildate_rfc3339(time(NULL), 0, true, sent);
	char *id = xasprintf("S%s", qid);
	json_t *full = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:n, s:[], s:[]}", "id", id,
				 "identityId", ident, "emailId", eid, "threadId", thread, "envelope",
				 env, "sendAt", sent, "undoStatus", "final", "deliveryStatus",
				 "dsnBlobIds", "mdnBlobIds");
	store(full);
	json_decref(full);
	json_object_set_new(sent_now, cid, json_string(eid));
	jmap_created(c, cid, id);
	json_t *out = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "threadId", thread, "sendAt", sent,
				"undoStatus", "final");
	free(id);
	return out;
}

/* Only undoStatus may change, and only to "canceled", which a sent
 * message cannot be. */
static json_t *update(struct jcall *c, const char *id, json_t *patch)
{
	struct journal *j = journal_open(false);
	json_t *o = load(j, id);
	journal_close(j);
	if (!o)
		return jmap_set_error("notFound", NULL, NULL);
	json_decref(o);
	const char *k;
	json_t *v;
	json_object_foreach(patch, k, v) {
		if (strcmp(k, "undoStatus") || !json_is_string(v))
			return jmap_set_error("invalidProperties", "only undoStatus can change", k);
		if (strcmp(json_string_value(v), "final"))
			return jmap_set_error("cannotUnsend", "the message has been sent", NULL);
	}
	return NULL;
}

static json_t *destroy(struct jcall *c, const char *id, json_t *args)
{
	struct journal *j = journal_open(true);
	json_t *o = load(j, id);
	if (!o) {
		journal_close(j);
		return jmap_set_error("notFound", NULL, NULL);
	}
	json_decref(o);
	json_t *ids = index_of(j);
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
		if (!strcmp(json_string_value(v), id)) {
			json_array_remove(ids, i);
			break;
		}
	char *k = obj_key(id);
	journal_del(j, k);
	free(k);
	journal_put_json(j, INDEX_KEY, ids);
	journal_record(j, json_pack("{s:{s:[], s:[], s:[s]}}", TYPE, "c", "u", "d", id));
	json_decref(ids);
	journal_close(j);
	return NULL;
}

/* The emailId that key of onSuccess* names: "#creationId" of a submission
 * made by this call, else nothing (only successes count). */
static const char *success_email(const char *key)
{
	return key[0] == '#' ? json_string_value(json_object_get(sent_now, key + 1)) : NULL;
}

/* RFC 8621 7.5: the implicit Email/set after the submissions succeeded. */
static void on_success(struct jcall *c, json_t *args)
{
	json_t *up = json_object_get(args, "onSuccessUpdateEmail");
	json_t *de = json_object_get(args, "onSuccessDestroyEmail");
	json_t *eup = json_object(), *ede = json_array();
	const char *k;
	json_t *v;
	json_object_foreach(up, k, v) {
		const char *e = success_email(k);
		if (e)
			json_object_set(eup, e, v);
	}
	size_t i;
	json_array_foreach(de, i, v) {
		const char *e = json_is_string(v) ? success_email(json_string_value(v)) : NULL;
		if (e)
			json_array_append_new(ede, json_string(e));
	}
	if (json_object_size(eup) || json_array_size(ede)) {
		json_t *a = json_pack("{s:s, s:o, s:o}", "accountId", c->s->account, "update", eup,
				      "destroy", ede);
		jmap_email_set(c, a);
		json_decref(a);
	} else {
		json_decref(eup);
		json_decref(ede);
	}
}

static void sub_set(struct jcall *c, json_t *args)
{
	static const char *const known[] = { "accountId", "ifInState", "create", "update", "destroy",
					     "onSuccessUpdateEmail", "onSuccessDestroyEmail", NULL };
	static const struct jmap_set_ops ops = { create, update, destroy, NULL };
	json_t *up = json_object_get(args, "onSuccessUpdateEmail");
	json_t *de = json_object_get(args, "onSuccessDestroyEmail");
	if ((up && !json_is_null(up) && !json_is_object(up)) ||
	    (de && !json_is_null(de) && !json_is_array(de))) {
		jmap_error(c, "invalidArguments", "onSuccessUpdateEmail or onSuccessDestroyEmail");
		return;
	}
	sent_now = json_object();
	size_t before = json_array_size(c->responses);
	jmap_set_run(c, args, TYPE, known, &ops);
	const char *name = json_string_value(json_array_get(json_array_get(c->responses, before), 0));
	if (name && !strcmp(name, "EmailSubmission/set"))
		on_success(c, args);
	json_decref(sent_now);
	sent_now = NULL;
}

/* Final: every recipient delivered or not, nothing still queued. */
static bool status_final(json_t *ds)
{
	const char *k;
	json_t *v;
	if (!json_is_object(ds))
		return false;
	json_object_foreach(ds, k, v) {
		const char *d = json_string_value(json_object_get(v, "delivered"));
		if (!d || !strcmp(d, "queued"))
			return false;
	}
	return true;
}

/* The ids (newest first, at most SUBMIT_STATUS_MAX) of want whose status
 * queued may still change; their queue ids into qids. */
static json_t *unsettled(json_t *want, const char **qids, size_t *n)
{
	struct journal *j = journal_open(false);
	json_t *ids = json_array();
	*n = 0;
	for (size_t i = json_array_size(want); i-- > 0 && *n < SUBMIT_STATUS_MAX;) {
		const char *id = json_string_value(json_array_get(want, i));
		bool ours = id && id[0] == 'S' && strlen(id) == QUEUE_ID_LEN + 1;
		json_t *o = ours ? load(j, id) : NULL;
		if (o && !status_final(json_object_get(o, "deliveryStatus"))) {
			json_array_append_new(ids, json_string(id));
			qids[*n] = json_string_value(json_array_get(ids, *n)) + 1;
			(*n)++;
		}
		json_decref(o);
	}
	journal_close(j);
	return ids;
}

/* Ask queued about the unsettled submissions of want; store what changed. */
static void refresh_status(struct jcall *c, json_t *want)
{
	const char *qids[SUBMIT_STATUS_MAX];
	size_t n;
	json_t *ids = unsettled(want, qids, &n);
	json_t *st = n ? submit_status(c->s, qids, n) : NULL;
	struct journal *j = st ? journal_open(true) : NULL;
	json_t *changed = json_array();
	for (size_t i = 0; j && i < n; i++) {
		const char *id = json_string_value(json_array_get(ids, i));
		json_t *ds = json_array_get(st, i), *o = json_is_object(ds) ? load(j, id) : NULL;
		if (o && !json_equal(json_object_get(o, "deliveryStatus"), ds)) {
			json_object_set(o, "deliveryStatus", ds);
			char *k = obj_key(id);
			journal_put_json(j, k, o);
			free(k);
			json_array_append_new(changed, json_string(id));
		}
		json_decref(o);
	}
	if (json_array_size(changed))
		journal_record(j, json_pack("{s:{s:[], s:O, s:[]}}", TYPE, "c", "u", changed, "d"));
	journal_close(j);
	json_decref(changed);
	json_decref(st);
	json_decref(ids);
}

static bool wants_status(json_t *pr)
{
	return !pr || json_has_string(pr, "deliveryStatus");
}

static void sub_get(struct jcall *c, json_t *args)
{
	static const char *const known[] = { "accountId", "ids", "properties", NULL };
	json_t *ids, *pr;
	if (!jmap_account_ok(c, args) || !jmap_args_known(c, args, known) ||
	    !jmap_get_args(c, args, &ids, &pr, props))
		return;
	struct journal *j = journal_open(false);
	json_t *want = ids ? json_incref(ids) : index_of(j);
	if (wants_status(pr)) {
		journal_close(j);	/* not held while queued is asked */
		refresh_status(c, want);
		j = journal_open(false);
	}
	json_t *list = json_array(), *nf = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(want, i, v) {
		json_t *o = load(j, json_string_value(v));
		json_array_append_new(o ? list : nf, o ? jmap_pick(o, pr) : json_incref(v));
	}
	journal_close(j);
	char *state = jmap_type_state(TYPE);
	jmap_reply(c, "EmailSubmission/get", json_pack("{s:s, s:s, s:o, s:o}", "accountId",
		   c->s->account, "state", state, "list", list, "notFound", nf));
	free(state);
	json_decref(want);
	json_decref(ids);
	json_decref(pr);
}

static void sub_changes(struct jcall *c, json_t *args)
{
	jmap_changes(c, args, TYPE, false);
}

/* ---- query ---- */

/* Does o match one FilterCondition (RFC 8621 7.3)? -1: malformed. */
static int cond_matches(json_t *o, json_t *f)
{
	static const char *const lists[][2] = { { "identityIds", "identityId" },
						{ "emailIds", "emailId" },
						{ "threadIds", "threadId" } };
	const char *k;
	json_t *v;
	json_object_foreach(f, k, v) {
		size_t l = 0;
		while (l < ARRAY_LEN(lists) && strcmp(lists[l][0], k))
			l++;
		const char *sa = json_string_value(json_object_get(o, "sendAt"));
		if (l < ARRAY_LEN(lists)) {
			if (!json_is_array(v))
				return -1;
			if (!json_has_string(v, json_string_value(json_object_get(o, lists[l][1]))))
				return 0;
		} else if (!strcmp(k, "undoStatus")) {
			if (!json_is_string(v))
				return -1;
			if (strcmp(json_string_value(v), "final"))
				return 0;
		} else if (!strcmp(k, "before") || !strcmp(k, "after")) {
			int64_t t, at;
			if (!json_is_string(v) || !maildate_parse_rfc3339(json_string_value(v), &t))
				return -1;
			if (!maildate_parse_rfc3339(sa, &at) || (k[0] == 'b' ? at >= t : at < t))
				return 0;
		} else {
			return -1;
		}
	}
	return 1;
}

/* A FilterOperator or FilterCondition. -1: malformed. */
static int matches(json_t *o, json_t *f)
{
	if (!f || json_is_null(f))
		return 1;
	if (!json_is_object(f))
		return -1;
	json_t *op = json_object_get(f, "operator"), *cs = json_object_get(f, "conditions");
	if (!op)
		return cond_matches(o, f);
	const char *ops = json_string_value(op);
	if (!ops || !json_is_array(cs) || json_object_size(f) != 2)
		return -1;
	bool and = !strcmp(ops, "AND"), or = !strcmp(ops, "OR"), not = !strcmp(ops, "NOT");
	if (!and && !or && !not)
		return -1;
	size_t i, hits = 0;
	json_t *c;
	json_array_foreach(cs, i, c) {
		int r = matches(o, c);
		if (r < 0)
			return -1;
		hits += (size_t)r;
	}
	return and ? hits == json_array_size(cs) : or ? hits > 0 : hits == 0;
}

/* Sorts: sentAt (the order kept, oldest first), emailId, threadId. */
static const char *sort_prop;
static int sort_desc;
static int by_prop(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int r = strcmp(json_string_value(json_object_get(x, sort_prop)),
		       json_string_value(json_object_get(y, sort_prop)));
	return sort_desc ? -r : r;
}

static json_t *query_run(struct jcall *c, json_t *args)
{
	json_t *sort = json_object_get(args, "sort"), *s0 = json_array_get(sort, 0);
	const char *prop = json_string_value(json_object_get(s0, "property"));
	if ((sort && !json_is_null(sort) && (!json_is_array(sort) || json_array_size(sort) > 1)) ||
	    (s0 && prop && strcmp(prop, "sentAt") && strcmp(prop, "emailId") &&
	     strcmp(prop, "threadId"))) {
		jmap_error(c, "unsupportedSort", NULL);
		return NULL;
	}
	struct journal *j = journal_open(false);
	json_t *ids = index_of(j), *objs = json_array();
	size_t i;
	json_t *v;
	int bad = 0;
	json_array_foreach(ids, i, v) {
		json_t *o = load(j, json_string_value(v));
		int r = o ? matches(o, json_object_get(args, "filter")) : 0;
		bad |= r < 0;
		if (r > 0)
			json_array_append(objs, o);
		json_decref(o);
	}
	journal_close(j);
	json_decref(ids);
	if (bad) {
		json_decref(objs);
		jmap_error(c, "unsupportedFilter", NULL);
		return NULL;
	}
	size_t n = json_array_size(objs);
	json_t **arr = xcalloc(n ? n : 1, sizeof *arr);
	for (i = 0; i < n; i++)
		arr[i] = json_array_get(objs, i);
	sort_prop = prop && strcmp(prop, "sentAt") ? prop : "sendAt";
	sort_desc = json_is_false(json_object_get(s0, "isAscending"));
	qsort(arr, n, sizeof *arr, by_prop);
	json_t *out = json_array();
	for (i = 0; i < n; i++)
		json_array_append(out, json_object_get(arr[i], "id"));
	free(arr);
	json_decref(objs);
	return out;
}

static void sub_query(struct jcall *c, json_t *args)
{
	static const char *const known[] = { "accountId", "filter", "sort", "position", "anchor",
					     "anchorOffset", "limit", "calculateTotal", NULL };
	jmap_query_method(c, args, TYPE, known, query_run, false);
}

static void sub_query_changes(struct jcall *c, json_t *args)
{
	static const char *const known[] = { "accountId", "filter", "sort", "sinceQueryState",
					     "maxChanges", "upToId", "calculateTotal", NULL };
	jmap_query_method(c, args, TYPE, known, query_run, true);
}

const struct jmap_method jmap_submission_methods[] = {
	{ "EmailSubmission/get", CAP_SUBMISSION, sub_get },
	{ "EmailSubmission/changes", CAP_SUBMISSION, sub_changes },
	{ "EmailSubmission/query", CAP_SUBMISSION, sub_query },
	{ "EmailSubmission/queryChanges", CAP_SUBMISSION, sub_query_changes },
	{ "EmailSubmission/set", CAP_SUBMISSION, sub_set },
	{ NULL, NULL, NULL },
};
