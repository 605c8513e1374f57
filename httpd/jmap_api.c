/* jmap_api.c — the JMAP API endpoint (RFC 8620 3): the Request object and
 * its request-level errors (notJSON, notRequest, unknownCapability, limit),
 * method dispatch, result references (3.7) with the JSON Pointer "*"
 * extension, and the Response object. */
#include "httpd/jmap.h"
#include "httpd/chan.h"
#include "httpd/push.h"
#include "httpd/sess.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define POINTER_MAX_RESULTS 100000	/* elements a "*" path may produce */

static const char *const known_caps[] = { CAP_CORE, CAP_MAIL, CAP_SUBMISSION, CAP_VACATION,
					  NULL };

static const struct jmap_method *const method_tables[] = {
	jmap_core_methods,
	jmap_mailbox_methods,
	jmap_email_methods,
	jmap_email_import_methods,
	jmap_snippet_methods,
	jmap_identity_methods,
	jmap_submission_methods,
	jmap_vacation_methods,
};

void jmap_reply(struct jcall *c, const char *name, json_t *args)
{
	json_array_append_new(c->responses, json_pack("[s, o, s]", name, args, c->call_id));
}

void jmap_error_obj(struct jcall *c, json_t *err)
{
	json_array_append_new(c->responses, json_pack("[s, o, s]", "error", err, c->call_id));
}

void jmap_error(struct jcall *c, const char *type, const char *desc)
{
	json_t *e = json_pack("{s:s}", "type", type);
	if (desc)
		json_object_set_new(e, "description", json_string(desc));
	jmap_error_obj(c, e);
}

bool jmap_account_ok(struct jcall *c, json_t *args)
{
	json_t *a = json_object_get(args, "accountId");
	if (!json_is_string(a)) {
		jmap_error(c, "invalidArguments", "accountId: a string is required");
		return false;
	}
	if (strcmp(json_string_value(a), c->s->account)) {
		jmap_error(c, "accountNotFound", NULL);
		return false;
	}
	return true;
}

bool jmap_args_known(struct jcall *c, json_t *args, const char *const *known)
{
	const char *key;
	json_t *v;
	json_object_foreach(args, key, v) {
		const char *const *k = known;
		while (*k && strcmp(*k, key))
			k++;
		if (!*k) {
			char *d = xasprintf("unknown argument %s", key);
			jmap_error(c, "invalidArguments", d);
			free(d);
			return false;
		}
	}
	return true;
}

static const struct jmap_method *find_method(const char *name)
{
	for (size_t t = 0; t < ARRAY_LEN(method_tables); t++)
		for (const struct jmap_method *m = method_tables[t]; m->name; m++)
			if (!strcmp(m->name, name))
				return m;
	return NULL;
}

/* ---- result references ---- */

/* One JSON Pointer reference token (RFC 6901: ~1 is '/', ~0 is '~'). */
static char *pointer_token(const char *p, size_t n)
{
	char *t = xmalloc(n + 1), *o = t;
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '~' && i + 1 < n && (p[i + 1] == '0' || p[i + 1] == '1'))
			*o++ = p[++i] == '0' ? '~' : '/';
		else
			*o++ = p[i];
	}
	*o = '\0';
	return t;
}

/* Evaluate path on v (a new reference, or NULL when it names nothing).
 * "*" on an array maps the rest of the path over its items and joins the
 * results, flattening those that are arrays (RFC 8620 3.7). */
static json_t *pointer_eval(json_t *v, const char *path, size_t *budget)
{
	if (!*path)
		return json_incref(v);
	if (*path != '/')
		return NULL;
	path++;
	size_t n = strcspn(path, "/");
	char *tok = pointer_token(path, n);
	const char *rest = path + n;
	json_t *out = NULL;
	if (json_is_array(v) && !strcmp(tok, "*")) {
		out = json_array();
		size_t i;
		json_t *item;
		json_array_foreach(v, i, item) {
			json_t *r = pointer_eval(item, rest, budget);
			if (!r || *budget == 0) {
				json_decref(r);
				json_decref(out);
				out = NULL;
				break;
			}
			if (json_is_array(r))
				json_array_extend(out, r);
			else
				json_array_append(out, r);
			*budget -= json_is_array(r) ? json_array_size(r) : 1;
			json_decref(r);
		}
	} else if (json_is_array(v)) {
		uint64_t idx;
		if (parse_u64(tok, SIZE_MAX, &idx) && (tok[0] != '0' || !tok[1]) &&
		    idx < json_array_size(v))
			out = pointer_eval(json_array_get(v, (size_t)idx), rest, budget);
	} else if (json_is_object(v)) {
		json_t *child = json_object_get(v, tok);
		if (child)
			out = pointer_eval(child, rest, budget);
	}
	free(tok);
	return out;
}

/* The arguments of an earlier response named by ref, or NULL. */
static json_t *referenced(struct jcall *c, json_t *ref)
{
	const char *of = json_string_value(json_object_get(ref, "resultOf"));
	const char *name = json_string_value(json_object_get(ref, "name"));
	const char *path = json_string_value(json_object_get(ref, "path"));
	if (!of || !name || !path || json_object_size(ref) != 3)
		return NULL;
	size_t i;
	json_t *r;
	json_array_foreach(c->responses, i, r) {
		if (!strcmp(json_string_value(json_array_get(r, 2)), of) &&
		    !strcmp(json_string_value(json_array_get(r, 0)), name)) {
			size_t budget = POINTER_MAX_RESULTS;
			return pointer_eval(json_array_get(r, 1), path, &budget);
		}
	}
	return NULL;
}

/* Replace each "#name" argument by the value it references. false (error
 * answered) when a reference cannot be resolved. */
static bool resolve_refs(struct jcall *c, json_t *args)
{
	const char *key;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(args, tmp, key, v) {
		if (key[0] != '#')
			continue;
		if (json_object_get(args, key + 1)) {
			jmap_error(c, "invalidArguments", "an argument is given both plain and as a reference");
			return false;
		}
		json_t *val = json_is_object(v) ? referenced(c, v) : NULL;
		if (!val) {
			jmap_error(c, "invalidResultReference", key + 1);
			return false;
		}
		char *plain = xstrdup(key + 1);
		json_object_del(args, key);
		json_object_set_new(args, plain, val);
		free(plain);
	}
	return true;
}

/* ---- the request ---- */

static bool has_cap(json_t *using, const char *cap)
{
	size_t i;
	json_t *u;
	json_array_foreach(using, i, u)
		if (!strcmp(json_string_value(u), cap))
			return true;
	return false;
}

static void run_call(struct jcall *c, json_t *using, json_t *call)
{
	c->name = json_string_value(json_array_get(call, 0));
	c->call_id = json_string_value(json_array_get(call, 2));
	json_t *args = json_deep_copy(json_array_get(call, 1));
	const struct jmap_method *m = find_method(c->name);
	if (!m || !has_cap(using, m->capability))
		jmap_error(c, "unknownMethod", NULL);
	else if (resolve_refs(c, args))
		m->fn(c, args);
	json_decref(args);
}

/* A well-formed Request object (RFC 8620 3.3)? */
static bool request_shape(json_t *req)
{
	json_t *using = json_object_get(req, "using"), *calls = json_object_get(req, "methodCalls");
	json_t *ids = json_object_get(req, "createdIds");
	if (!json_is_object(req) || !json_is_array(using) || !json_is_array(calls) ||
	    (ids && !json_is_object(ids)))
		return false;
	size_t i;
	json_t *v;
	json_array_foreach(using, i, v)
		if (!json_is_string(v))
			return false;
	json_array_foreach(calls, i, v)
		if (!json_is_array(v) || json_array_size(v) != 3 ||
		    !json_is_string(json_array_get(v, 0)) || !json_is_object(json_array_get(v, 1)) ||
		    !json_is_string(json_array_get(v, 2)))
			return false;
	const char *k;
	json_object_foreach(ids, k, v)
		if (!json_is_string(v))
			return false;
	return true;
}

/* The first capability of using that we do not know, or NULL. */
static const char *unknown_cap(json_t *using)
{
	size_t i;
	json_t *u;
	json_array_foreach(using, i, u) {
		const char *const *k = known_caps;
		while (*k && strcmp(*k, json_string_value(u)))
			k++;
		if (!*k)
			return json_string_value(u);
	}
	return NULL;
}

static bool json_ctype(const char *ct)
{
	size_t n = strlen("application/json");
	return !strncasecmp(ct, "application/json", n) && (!ct[n] || ct[n] == ';' || ct[n] == ' ');
}

static void process(struct sess *s, uint32_t id, json_t *req)
{
	json_t *using = json_object_get(req, "using"), *calls = json_object_get(req, "methodCalls");
	const char *cap = unknown_cap(using);
	if (cap) {
		char *d = xasprintf("The request used capability '%s', which is not supported", cap);
		sess_problem(s, id, 400, ERR_PREFIX "unknownCapability", NULL, d);
		free(d);
		return;
	}
	if (json_array_size(calls) > s->conf->lim.max_calls_in_request) {
		sess_problem(s, id, 400, ERR_PREFIX "limit", "maxCallsInRequest",
			     "Too many method calls in one request");
		return;
	}
	if (account_sync(&s->acct) < 0) {
		sess_problem(s, id, 503, "about:blank", NULL, "The mailbox cannot be read now");
		return;
	}
	json_t *in_ids = json_object_get(req, "createdIds");
	struct jcall c = { .s = s, .responses = json_array(),
			   .created_ids = in_ids ? json_deep_copy(in_ids) : json_object() };
	size_t i;
	json_t *call;
	json_array_foreach(calls, i, call)
		run_call(&c, using, call);
	json_t *res = json_pack("{s:o, s:s}", "methodResponses", c.responses, "sessionState",
				jmap_session_state(s));
	if (in_ids)
		json_object_set(res, "createdIds", c.created_ids);
	json_decref(c.created_ids);
	sess_reply_json(s, id, 200, "application/json", res);
}

void jmap_api_request(struct sess *s, uint32_t id, const char *ctype, const char *body, size_t len)
{
	json_error_t err;
	json_t *req = json_ctype(ctype) ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &err) : NULL;
	if (!req) {
		sess_problem(s, id, 400, ERR_PREFIX "notJSON", NULL,
			     json_ctype(ctype) ? "The request is not valid I-JSON"
					       : "The Content-Type must be application/json");
	} else if (!request_shape(req)) {
		sess_problem(s, id, 400, ERR_PREFIX "notRequest", NULL,
			     "The request does not match the type signature of a Request object");
	} else {
		process(s, id, req);
	}
	json_decref(req);
}

void jmap_api(struct sess *s, uint32_t id, const char *ctype, struct ipc_msg *m)
{
	size_t len;
	char *body = chan_get_body(m, s->conf->lim.max_size_request, &len);
	if (!body) {
		sess_problem(s, id, 400, ERR_PREFIX "limit", "maxSizeRequest", "The request is too large");
		return;
	}
	jmap_api_request(s, id, ctype, body, len);
	free(body);
	push_check(s);	/* what this request changed, to the open streams */
}
