/* jmap_identity.c — Identity/get, /changes, /set (RFC 8621 6): one
 * identity per address the user may send as, which authd lists (the login
 * address and the aliases that lead to it: AUTH_ADDRESSES_REQ, asked
 * through the front, the same rule as the sender check of submission). The
 * front still checks every envelope sender with authd whatever an identity
 * says: an identity is a convenience for clients, never a permission.
 * What the user sets (name, signatures, replyTo, bcc) is kept per identity
 * in the journal of the Maildir ("IIdentity:" records); an update is an
 * Identity change, so the state and /changes follow it. */
#include "httpd/jmap.h"
#include "httpd/jmap_util.h"
#include "httpd/journal.h"
#include "httpd/sess.h"
#include "httpd/submit.h"
#include "common/util.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TYPE "Identity"
#define KEY_PREFIX "IIdentity:"
#define NAME_LEN_MAX 256
#define SIGNATURE_MAX (16 * 1024)
#define ADDRS_MAX 16		/* replyTo, bcc */

void jmap_identity_id(const char *email, char out[IDENTITY_ID_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	char low[512];
	strlcpy_t(low, email, sizeof low);
	for (char *p = low; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	EVP_Digest(low, strlen(low), md, &n, EVP_sha256(), NULL);
	out[0] = 'I';
	for (int i = 0; i < 8; i++)
		snprintf(out + 1 + 2 * i, 3, "%02x", md[i]);
}

static const char *const props[] = { "id", "name", "email", "replyTo", "bcc", "textSignature",
				     "htmlSignature", "mayDelete", NULL };

/* What the user set for identity id ({} when nothing). */
static json_t *stored(struct journal *j, const char *id)
{
	char *k = xasprintf("%s%s", KEY_PREFIX, id);
	json_t *o = j ? journal_get_json(j, k) : NULL;
	free(k);
	return json_is_object(o) ? o : (json_decref(o), json_object());
}

static json_t *identity_json(struct journal *j, const char *email)
{
	char id[IDENTITY_ID_LEN + 1];
	jmap_identity_id(email, id);
	json_t *o = json_pack("{s:s, s:s, s:s, s:n, s:n, s:s, s:s, s:b}", "id", id, "name", "",
			      "email", email, "replyTo", "bcc", "textSignature", "",
			      "htmlSignature", "", "mayDelete", 0);
	json_t *mine = stored(j, id);
	json_object_update(o, mine);
	json_decref(mine);
	return o;
}

char *jmap_identity_email(struct sess *s, const char *id, bool *unavailable)
{
	json_t *addrs = submit_addresses(s);
	*unavailable = !addrs;
	char *out = NULL, mine[IDENTITY_ID_LEN + 1];
	size_t i;
	json_t *v;
	json_array_foreach(addrs, i, v) {
		jmap_identity_id(json_string_value(v), mine);
		if (!out && !strcmp(mine, id))
			out = xstrdup(json_string_value(v));
	}
	json_decref(addrs);
	return out;
}

/* Every identity of the user, NULL when authd cannot say now. */
static json_t *identities(struct sess *s)
{
	json_t *addrs = submit_addresses(s);
	if (!addrs)
		return NULL;
	struct journal *j = journal_open(false);
	json_t *all = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(addrs, i, v)
		json_array_append_new(all, identity_json(j, json_string_value(v)));
	journal_close(j);
	json_decref(addrs);
	return all;
}

static json_t *all_identities(struct jcall *c)
{
	json_t *all = identities(c->s);
	if (!all)
		jmap_error(c, "serverFail", "the user's addresses cannot be listed now");
	return all;
}

static json_t *find(json_t *all, const char *id)
{
	size_t i;
	json_t *v;
	json_array_foreach(all, i, v)
		if (!strcmp(json_string_value(json_object_get(v, "id")), id))
			return v;
	return NULL;
}

static void identity_get(struct jcall *c, json_t *args)
{
	static const char *const known[] = { "accountId", "ids", "properties", NULL };
	json_t *ids, *pr, *all;
	if (!jmap_account_ok(c, args) || !jmap_args_known(c, args, known) ||
	    !jmap_get_args(c, args, &ids, &pr, props))
		return;
	if ((all = all_identities(c))) {
		json_t *list = json_array(), *nf = json_array(), *v;
		size_t i;
		json_array_foreach(ids ? ids : all, i, v) {
			json_t *o = ids ? find(all, json_string_value(v)) : v;
			json_array_append_new(o ? list : nf, o ? jmap_pick(json_deep_copy(o), pr)
							      : json_incref(v));
		}
		char *state = jmap_type_state(TYPE);
		jmap_reply(c, "Identity/get", json_pack("{s:s, s:s, s:o, s:o}", "accountId",
							c->s->account, "state", state, "list", list,
							"notFound", nf));
		free(state);
		json_decref(all);
	}
	json_decref(ids);
	json_decref(pr);
}

static void identity_changes(struct jcall *c, json_t *args)
{
	jmap_changes(c, args, TYPE, false);
}

/* Every address of the user is an identity already; another address is
 * not the user's to send from. */
static json_t *identity_create(struct jcall *c, const char *cid, json_t *obj, json_t **err)
{
	*err = jmap_set_error("forbiddenFrom", "every address of yours is an identity already",
			      "email");
	return NULL;
}

/* null, or at most ADDRS_MAX EmailAddress objects (RFC 8621 4.1.2.3). */
static bool addresses_ok(json_t *v)
{
	if (json_is_null(v))
		return true;
	if (!json_is_array(v) || json_array_size(v) > ADDRS_MAX)
		return false;
	size_t i;
	json_t *a, *x;
	const char *k;
	json_array_foreach(v, i, a) {
		if (!json_is_object(a) || !json_is_string(json_object_get(a, "email")))
			return false;
		json_object_foreach(a, k, x)
			if (strcmp(k, "email") && !(!strcmp(k, "name") &&
						    (json_is_string(x) || json_is_null(x))))
				return false;
		if (json_string_length(json_object_get(a, "email")) > NAME_LEN_MAX)
			return false;
	}
	return true;
}

static bool string_ok(json_t *v, size_t max)
{
	return json_is_string(v) && json_string_length(v) <= max;
}

/* One property of a patch against identity cur: NULL, or the SetError. */
static json_t *check_prop(json_t *cur, const char *k, json_t *v)
{
	bool ok;
	if (!strcmp(k, "name"))
		ok = string_ok(v, NAME_LEN_MAX);
	else if (!strcmp(k, "textSignature") || !strcmp(k, "htmlSignature"))
		ok = string_ok(v, SIGNATURE_MAX);
	else if (!strcmp(k, "replyTo") || !strcmp(k, "bcc"))
		ok = addresses_ok(v);
	else if (!strcmp(k, "id") || !strcmp(k, "email") || !strcmp(k, "mayDelete"))
		ok = json_equal(json_object_get(cur, k), v);	/* immutable */
	else
		ok = false;
	return ok ? NULL : jmap_set_error("invalidProperties", NULL, k);
}

static json_t *identity_update(struct jcall *c, const char *id, json_t *patch)
{
	json_t *all = identities(c->s), *cur = all ? find(all, id) : NULL, *err = NULL;
	const char *k;
	json_t *v;
	if (!all)
		err = jmap_set_error("forbidden", "the user's addresses cannot be listed now", NULL);
	else if (!cur)
		err = jmap_set_error("notFound", NULL, NULL);
	else if (!json_is_object(patch))
		err = jmap_set_error("invalidPatch", NULL, NULL);
	json_object_foreach(err ? NULL : patch, k, v)
		if (!err)
			err = check_prop(cur, k, v);
	struct journal *j = err ? NULL : journal_open(true);
	if (!err && !j)
		err = jmap_set_error("forbidden", "the identity cannot be stored", NULL);
	if (j) {
		json_t *mine = stored(j, id);
		json_object_foreach(patch, k, v)
			if (strcmp(k, "id") && strcmp(k, "email") && strcmp(k, "mayDelete"))
				json_object_set(mine, k, v);
		char *key = xasprintf("%s%s", KEY_PREFIX, id);
		journal_put_json(j, key, mine);
		free(key);
		journal_record(j, json_pack("{s:{s:[], s:[s], s:[]}}", TYPE, "c", "u", id, "d"));
		journal_close(j);
		json_decref(mine);
	}
	json_decref(all);
	return err;
}

static json_t *identity_destroy(struct jcall *c, const char *id, json_t *args)
{
	json_t *all = identities(c->s);
	bool known = all && find(all, id);
	json_decref(all);
	return jmap_set_error(known ? "forbidden" : "notFound", known ? "mayDelete is false" : NULL,
			      NULL);
}

static void identity_set(struct jcall *c, json_t *args)
{
	static const char *const known[] = { "accountId", "ifInState", "create", "update", "destroy",
					     NULL };
	static const struct jmap_set_ops ops = { identity_create, identity_update, identity_destroy,
						 NULL };
	jmap_set_run(c, args, TYPE, known, &ops);
}

const struct jmap_method jmap_identity_methods[] = {
	{ "Identity/get", CAP_SUBMISSION, identity_get },
	{ "Identity/changes", CAP_SUBMISSION, identity_changes },
	{ "Identity/set", CAP_SUBMISSION, identity_set },
	{ NULL, NULL, NULL },
};
