/* jmap_vacation.c — VacationResponse/get and /set (RFC 8621 8): one
 * singleton per account, stored in the Maildir (common/vacation.h) where the
 * local delivery agent reads it to send the auto-replies. */
#include "httpd/jmap.h"
#include "httpd/jmap_util.h"
#include "httpd/sess.h"
#include "common/log.h"
#include "common/maildate.h"
#include "common/util.h"
#include "common/vacation.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SINGLETON "singleton"

static const char *const props[] = { "id", "isEnabled", "fromDate", "toDate", "subject",
				     "textBody", "htmlBody", NULL };

static char *state_of(json_t *stored)
{
	return xasprintf("%lld", (long long)json_integer_value(json_object_get(stored, "state")));
}

/* The object as JMAP shows it: the stored one without "state", with its id. */
static json_t *shown(json_t *stored)
{
	json_t *o = json_deep_copy(stored);
	json_object_del(o, "state");
	json_object_set_new(o, "id", json_string(SINGLETON));
	return o;
}

static void vacation_get(struct jcall *c, json_t *args)
{
	static const char *const known[] = { "accountId", "ids", "properties", NULL };
	json_t *ids, *want;
	if (!jmap_account_ok(c, args) || !jmap_args_known(c, args, known) ||
	    !jmap_get_args(c, args, &ids, &want, props))
		return;
	json_t *stored = vacation_read(".");
	if (!stored) {
		jmap_error(c, "serverFail", "the vacation response cannot be read");
	} else {
		json_t *list = json_array(), *not_found = json_array();
		size_t i;
		json_t *v;
		if (!ids)
			json_array_append_new(list, jmap_pick(shown(stored), want));
		json_array_foreach(ids, i, v) {
			if (!strcmp(json_string_value(v), SINGLETON))
				json_array_append_new(list, jmap_pick(shown(stored), want));
			else
				json_array_append(not_found, v);
		}
		char *state = state_of(stored);
		jmap_reply(c, "VacationResponse/get", json_pack("{s:s, s:s, s:o, s:o}", "accountId",
			   c->s->account, "state", state, "list", list, "notFound", not_found));
		free(state);
	}
	json_decref(stored);
	json_decref(ids);
	json_decref(want);
}

/* One property of a patch, checked: NULL, or the SetError. */
static json_t *check_prop(const char *k, json_t *v)
{
	int64_t t;
	if (!strcmp(k, "id"))
		return json_is_string(v) && !strcmp(json_string_value(v), SINGLETON) ? NULL
			: jmap_set_error("invalidProperties", "id is immutable", k);
	if (!strcmp(k, "isEnabled"))
		return json_is_boolean(v) ? NULL : jmap_set_error("invalidProperties", "a Boolean", k);
	if (!strcmp(k, "fromDate") || !strcmp(k, "toDate"))
		return json_is_null(v) || (json_is_string(v) &&
					   maildate_parse_rfc3339(json_string_value(v), &t))
			? NULL : jmap_set_error("invalidProperties", "a UTCDate or null", k);
	if (!strcmp(k, "subject") || !strcmp(k, "textBody") || !strcmp(k, "htmlBody"))
		return json_is_null(v) || (json_is_string(v) && json_string_length(v) <= VACATION_MAX / 4)
			? NULL : jmap_set_error("invalidProperties", "a String (not too long) or null", k);
	return jmap_set_error("invalidProperties", "not a VacationResponse property", k);
}

/* Apply patch to stored (a new state when it changes): NULL, or the SetError. */
static json_t *update(json_t *stored, json_t *patch)
{
	const char *k;
	json_t *v;
	if (!json_is_object(patch))
		return jmap_set_error("invalidPatch", NULL, NULL);
	json_object_foreach(patch, k, v) {
		json_t *err = check_prop(k, v);
		if (err)
			return err;
	}
	/* changed in a copy: stored stays as it is when the write fails */
	json_t *next = json_deep_copy(stored), *err = NULL;
	json_object_foreach(patch, k, v)
		if (strcmp(k, "id"))
			json_object_set(next, k, v);
	json_int_t st = json_integer_value(json_object_get(stored, "state"));
	json_object_set_new(next, "state", json_integer(st + 1));
	if (vacation_write(".", next) == 0) {
		json_object_update(stored, next);
	} else if (errno == EFBIG) {
		err = jmap_set_error("tooLarge", "the vacation response is too large", NULL);
	} else {
		log_err("http: cannot store the vacation response: %s", strerror(errno));
		err = jmap_set_error("forbidden", "the vacation response cannot be stored", NULL);
	}
	json_decref(next);
	return err;
}

/* Every create and destroy is refused: there is one object, always. */
static json_t *refuse_all(json_t *what, bool keys)
{
	json_t *out = json_object(), *v;
	const char *k;
	size_t i;
	json_t *e = jmap_set_error("singleton", "the VacationResponse cannot be created or destroyed",
				   NULL);
	if (keys)
		json_object_foreach(what, k, v)
			json_object_set(out, k, e);
	else
		json_array_foreach(what, i, v)
			json_object_set(out, json_is_string(v) ? json_string_value(v) : "", e);
	json_decref(e);
	return out;
}

static void vacation_set(struct jcall *c, json_t *args)
{
	static const char *const known[] = { "accountId", "ifInState", "create", "update",
					     "destroy", NULL };
	json_t *stored = vacation_read(".");
	if (!stored) {
		jmap_error(c, "serverFail", "the vacation response cannot be read");
		return;
	}
	char *old = state_of(stored);
	if (jmap_args_known(c, args, known) && jmap_set_check(c, args, old)) {
		json_t *updated = json_object(), *not_updated = json_object();
		const char *k;
		json_t *v;
		json_object_foreach(json_object_get(args, "update"), k, v) {
			json_t *err = strcmp(k, SINGLETON) ? jmap_set_error("notFound", NULL, NULL)
				      : update(stored, v);
			json_object_set_new(err ? not_updated : updated, k, err ? err : json_null());
		}
		char *now = state_of(stored);
		jmap_reply(c, "VacationResponse/set", json_pack(
			"{s:s, s:s, s:s, s:{}, s:o, s:o, s:o, s:[], s:o}", "accountId", c->s->account,
			"oldState", old, "newState", now, "created",
			"notCreated", refuse_all(json_object_get(args, "create"), true),
			"updated", updated, "notUpdated", not_updated, "destroyed",
			"notDestroyed", refuse_all(json_object_get(args, "destroy"), false)));
		free(now);
	}
	free(old);
	json_decref(stored);
}

const struct jmap_method jmap_vacation_methods[] = {
	{ "VacationResponse/get", CAP_VACATION, vacation_get },
	{ "VacationResponse/set", CAP_VACATION, vacation_set },
	{ NULL, NULL, NULL },
};
