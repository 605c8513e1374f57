/* jmap_email.c — Email/get and /changes (RFC 8621 4.2, 4.3), Email/parse (4.9), Thread/get and
 * /changes (3), and the table of the Email and Thread methods. */
#include "httpd/jmap.h"
#include "httpd/blob.h"
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

/* bodyProperties, fetch*BodyValues and maxBodyValueBytes (Email/get and
 * Email/parse) into o; false when one is wrong. */
static bool body_opts(json_t *args, struct email_opts *o)
{
	json_t *bp = json_object_get(args, "bodyProperties"), *mx = json_object_get(args, "maxBodyValueBytes");
	if (bp && !json_is_null(bp)) {
		size_t i;
		json_t *v;
		if (!json_is_array(bp))
			return false;
		json_array_foreach(bp, i, v) {
			const char *p = json_string_value(v);
			const char *const *k = email_body_props;
			while (p && *k && strcmp(*k, p) && !(!strcmp(*k, "header:") && !strncmp(p, "header:", 7)))
				k++;
			if (!p || !*k)
				return false;
		}
		o->body_props = bp;
	}
	if (!bool_arg(args, "fetchTextBodyValues", &o->text) ||
	    !bool_arg(args, "fetchHTMLBodyValues", &o->html) ||
	    !bool_arg(args, "fetchAllBodyValues", &o->all) ||
	    (mx && !json_is_null(mx) && (!json_is_integer(mx) || json_integer_value(mx) < 1)))
		return false;
	o->max_value = json_is_integer(mx) ? (uint64_t)json_integer_value(mx) : 0;
	return true;
}

static const char *const get_known[] = { "accountId", "ids", "properties", "bodyProperties",
					 "fetchTextBodyValues", "fetchHTMLBodyValues",
					 "fetchAllBodyValues", "maxBodyValueBytes", NULL };

static void email_get(struct jcall *c, json_t *args)
{
	json_t *ids, *props;
	if (!jmap_account_ok(c, args) || !jmap_args_known(c, args, get_known) ||
	    !jmap_get_args(c, args, &ids, &props, email_props))
		return;
	struct email_opts o = { .props = props };
	if (!ids || !body_opts(args, &o)) {
		jmap_error(c, ids ? "invalidArguments" : "requestTooLarge",
			   ids ? "bodyProperties, fetch*BodyValues or maxBodyValueBytes"
			       : "ask for the ids you want (Email/query)");
		json_decref(ids);
		json_decref(props);
		return;
	}
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

/* ---- Email/parse (RFC 8621 4.9) ---- */

/* The properties Email/parse gives when none are asked for. */
static json_t *parse_default_props(void)
{
	static const char *const props[] = {
		"messageId", "inReplyTo", "references", "sender", "from", "to", "cc", "bcc",
		"replyTo", "subject", "sentAt", "hasAttachment", "preview", "bodyValues",
		"textBody", "htmlBody", "attachments", NULL,
	};
	json_t *a = json_array();
	for (size_t i = 0; props[i]; i++)
		json_array_append_new(a, json_string(props[i]));
	return a;
}

/* The blobIds argument: strings, at most maxObjectsInGet of them. */
static json_t *parse_blob_ids(struct jcall *c, json_t *args)
{
	json_t *ids = json_object_get(args, "blobIds");
	size_t i;
	json_t *v;
	if (!json_is_array(ids)) {
		jmap_error(c, "invalidArguments", "blobIds: an array");
		return NULL;
	}
	json_array_foreach(ids, i, v)
		if (!json_is_string(v)) {
			jmap_error(c, "invalidArguments", "blobIds: strings only");
			return NULL;
		}
	if (json_array_size(ids) > c->s->conf->lim.max_objects_in_get) {
		jmap_error(c, "requestTooLarge", "more blobIds than maxObjectsInGet");
		return NULL;
	}
	return ids;
}

/* One blob into parsed, notParsable or notFound. */
static void parse_one(struct jcall *c, const char *asked, const struct email_opts *o,
		      json_t *parsed, json_t *bad, json_t *nf)
{
	const char *id = jmap_resolve_id(c, asked);
	int fd;
	size_t len;
	if (!id || blob_open(c->s, id, &fd, &len) < 0) {
		json_array_append_new(nf, json_string(asked));
		return;
	}
	struct email e;
	if (email_of_blob(&e, id, fd, len))
		json_object_set_new(parsed, asked, email_json(c->s, &e, o));
	else
		json_array_append_new(bad, json_string(asked));
	email_close(&e);
}

static json_t *or_null(json_t *v)
{
	if (json_is_object(v) ? json_object_size(v) : json_array_size(v))
		return v;
	json_decref(v);
	return json_null();
}

static void email_parse_blobs(struct jcall *c, json_t *args)
{
	static const char *const known[] = { "accountId", "blobIds", "properties",
					     "bodyProperties", "fetchTextBodyValues",
					     "fetchHTMLBodyValues", "fetchAllBodyValues",
					     "maxBodyValueBytes", NULL };
	json_t *ids, *props, *blobs;
	if (!jmap_account_ok(c, args) || !jmap_args_known(c, args, known) ||
	    !(blobs = parse_blob_ids(c, args)) ||
	    !jmap_get_args(c, args, &ids, &props, email_props))
		return;
	struct email_opts o = { .props = props ? props : parse_default_props() };
	if (!body_opts(args, &o)) {
		jmap_error(c, "invalidArguments",
			   "bodyProperties, fetch*BodyValues or maxBodyValueBytes");
		json_decref(o.props);
		return;
	}
	json_t *parsed = json_object(), *bad = json_array(), *nf = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(blobs, i, v)
		parse_one(c, json_string_value(v), &o, parsed, bad, nf);
	jmap_reply(c, "Email/parse", json_pack("{s:s, s:o, s:o, s:o}", "accountId", c->s->account,
					       "parsed", or_null(parsed), "notParsable",
					       or_null(bad), "notFound", or_null(nf)));
	json_decref(o.props);
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
	{ "Email/parse", CAP_MAIL, email_parse_blobs },
	{ "Thread/get", CAP_MAIL, thread_get },
	{ "Thread/changes", CAP_MAIL, thread_changes },
	{ NULL, NULL, NULL },
};
