/* jmap_email.c — Email/get and /changes (RFC 8621 4.2, 4.3), Thread/get and
 * /changes (3), and the table of the Email and Thread methods. */
#include "httpd/jmap.h"
#include "httpd/email.h"
#include "httpd/email_query.h"
#include "httpd/jmap_util.h"
#include "httpd/journal.h"
#include "httpd/sess.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

static bool bool_arg(json_t *args, const char *name, bool *out)
{
	json_t *v = json_object_get(args, name);
	*out = json_is_true(v);
	return !v || json_is_boolean(v);
}

static void email_get(struct jcall *c, json_t *args)
{
	static const char *const known[] = { "accountId", "ids", "properties", "bodyProperties",
					     "fetchTextBodyValues", "fetchHTMLBodyValues",
					     "fetchAllBodyValues", "maxBodyValueBytes", NULL };
	json_t *ids, *props;
	if (!jmap_account_ok(c, args) || !jmap_args_known(c, args, known) ||
	    !jmap_get_args(c, args, &ids, &props, email_props))
		return;
	struct email_opts o = { .props = props };
	json_t *bp = json_object_get(args, "bodyProperties"), *mx = json_object_get(args, "maxBodyValueBytes");
	bool bp_ok = true;
	if (bp && !json_is_null(bp)) {
		size_t i;
		json_t *v;
		bp_ok = json_is_array(bp);
		json_array_foreach(bp, i, v) {
			const char *p = json_string_value(v);
			const char *const *k = email_body_props;
			while (p && *k && strcmp(*k, p) && !(!strcmp(*k, "header:") && !strncmp(p, "header:", 7)))
				k++;
			bp_ok = bp_ok && p && *k;
		}
		o.body_props = bp;
	}
	if (!ids || !bp_ok || !bool_arg(args, "fetchTextBodyValues", &o.text) ||
	    !bool_arg(args, "fetchHTMLBodyValues", &o.html) ||
	    !bool_arg(args, "fetchAllBodyValues", &o.all) ||
	    (mx && !json_is_null(mx) && (!json_is_integer(mx) || json_integer_value(mx) < 1))) {
		jmap_error(c, ids ? "invalidArguments" : "requestTooLarge",
			   ids ? "bodyProperties, fetch*BodyValues or maxBodyValueBytes"
			       : "ask for the ids you want (Email/query)");
		json_decref(ids);
		json_decref(props);
		return;
	}
	o.max_value = json_is_integer(mx) ? (uint64_t)json_integer_value(mx) : 0;
	struct journal *j = journal_open(false);
	json_t *list = json_array(), *nf = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		struct email e;
		if (j && email_open(c->s, j, json_string_value(v), &e)) {
			json_array_append_new(list, email_json(c->s, &e, &o));
			email_close(&e);
		} else {
			json_array_append(nf, v);
		}
	}
	char *state = j ? journal_state(j, "Email") : xstrdup("");
	journal_close(j);
	jmap_reply(c, "Email/get", json_pack("{s:s, s:s, s:o, s:o}", "accountId", c->s->account,
					     "state", state, "list", list, "notFound", nf));
	free(state);
	json_decref(ids);
	json_decref(props);
}

static void email_changes(struct jcall *c, json_t *args)
{
	jmap_changes(c, args, "Email", false);
}

/* ---- Thread ---- */

static void thread_get(struct jcall *c, json_t *args)
{
	static const char *const known[] = { "accountId", "ids", "properties", NULL };
	static const char *const props[] = { "id", "emailIds", NULL };
	json_t *ids, *pr;
	if (!jmap_account_ok(c, args) || !jmap_args_known(c, args, known) ||
	    !jmap_get_args(c, args, &ids, &pr, props))
		return;
	if (!ids) {
		jmap_error(c, "requestTooLarge", "ask for the ids you want");
		json_decref(pr);
		return;
	}
	struct journal *j = journal_open(false);
	json_t *list = json_array(), *nf = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v) {
		char *key = xasprintf("t%s", json_string_value(v));
		char *members = j ? journal_get(j, key) : NULL;
		free(key);
		if (!members) {
			json_array_append(nf, v);
			continue;
		}
		json_t *eids = json_array();
		char *save = NULL;
		for (char *w = strtok_r(members, " ", &save); w; w = strtok_r(NULL, " ", &save))
			json_array_append_new(eids, json_string(w));
		json_array_append_new(list, jmap_pick(json_pack("{s:O, s:o}", "id", v, "emailIds", eids),
						      pr));
		free(members);
	}
	char *state = j ? journal_state(j, "Thread") : xstrdup("");
	journal_close(j);
	jmap_reply(c, "Thread/get", json_pack("{s:s, s:s, s:o, s:o}", "accountId", c->s->account,
					      "state", state, "list", list, "notFound", nf));
	free(state);
	json_decref(ids);
	json_decref(pr);
}

static void thread_changes(struct jcall *c, json_t *args)
{
	jmap_changes(c, args, "Thread", false);
}

const struct jmap_method jmap_email_methods[] = {
	{ "Email/get", CAP_MAIL, email_get },
	{ "Email/changes", CAP_MAIL, email_changes },
	{ "Email/query", CAP_MAIL, email_query },
	{ "Email/queryChanges", CAP_MAIL, email_query_changes },
	{ "Email/set", CAP_MAIL, jmap_email_set },
	{ "Thread/get", CAP_MAIL, thread_get },
	{ "Thread/changes", CAP_MAIL, thread_changes },
	{ NULL, NULL, NULL },
};
