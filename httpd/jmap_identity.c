/* jmap_identity.c — Identity/get, /changes, /set (RFC 8621 6): the
 * addresses the user may send as. Today that is the login address itself;
 * the front checks every envelope sender with authd whatever the identity
 * says, so an identity is a convenience for clients, never a permission. */
#include "httpd/jmap.h"
#include "httpd/jmap_util.h"
#include "httpd/sess.h"
#include "common/util.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static json_t *identity_json(const char *email)
{
	char id[IDENTITY_ID_LEN + 1];
	jmap_identity_id(email, id);
	return json_pack("{s:s, s:s, s:s, s:n, s:n, s:s, s:s, s:b}", "id", id, "name", "",
			 "email", email, "replyTo", "bcc", "textSignature", "", "htmlSignature", "",
			 "mayDelete", 0);
}

static void identity_get(struct jcall *c, json_t *args)
{
	static const char *const known[] = { "accountId", "ids", "properties", NULL };
	json_t *ids, *pr;
	if (!jmap_account_ok(c, args) || !jmap_args_known(c, args, known) ||
	    !jmap_get_args(c, args, &ids, &pr, props))
		return;
	char mine[IDENTITY_ID_LEN + 1];
	jmap_identity_id(c->s->user, mine);
	json_t *list = json_array(), *nf = json_array();
	if (!ids) {
		json_array_append_new(list, jmap_pick(identity_json(c->s->user), pr));
	} else {
		size_t i;
		json_t *v;
		json_array_foreach(ids, i, v) {
			bool ok = !strcmp(json_string_value(v), mine);
			json_array_append_new(ok ? list : nf, ok ? jmap_pick(identity_json(c->s->user), pr)
								 : json_incref(v));
		}
	}
	char *state = jmap_type_state("Identity");
	jmap_reply(c, "Identity/get", json_pack("{s:s, s:s, s:o, s:o}", "accountId", c->s->account,
						"state", state, "list", list, "notFound", nf));
	free(state);
	json_decref(ids);
	json_decref(pr);
}

static void identity_changes(struct jcall *c, json_t *args)
{
	jmap_changes(c, args, "Identity", false);
}

/* Creating an identity for another address needs that address to be the
 * user's, which only authd can say: refused (forbiddenFrom) until the mail
 * process can ask; the login identity cannot be changed or destroyed. */
static json_t *identity_create(struct jcall *c, const char *cid, json_t *obj, json_t **err)
{
	*err = jmap_set_error("forbiddenFrom", "only the login address is an identity", "email");
	return NULL;
}

static json_t *identity_update(struct jcall *c, const char *id, json_t *patch)
{
	char mine[IDENTITY_ID_LEN + 1];
	jmap_identity_id(c->s->user, mine);
	if (strcmp(id, mine))
		return jmap_set_error("notFound", NULL, NULL);
	return jmap_set_error("forbidden", "the login identity cannot be changed", NULL);
}

static json_t *identity_destroy(struct jcall *c, const char *id, json_t *args)
{
	char mine[IDENTITY_ID_LEN + 1];
	jmap_identity_id(c->s->user, mine);
	if (strcmp(id, mine))
		return jmap_set_error("notFound", NULL, NULL);
	return jmap_set_error("forbidden", "mayDelete is false", NULL);
}

static void identity_set(struct jcall *c, json_t *args)
{
	static const char *const known[] = { "accountId", "ifInState", "create", "update", "destroy",
					     NULL };
	static const struct jmap_set_ops ops = { identity_create, identity_update, identity_destroy,
						 NULL };
	jmap_set_run(c, args, "Identity", known, &ops);
}

const struct jmap_method jmap_identity_methods[] = {
	{ "Identity/get", CAP_SUBMISSION, identity_get },
	{ "Identity/changes", CAP_SUBMISSION, identity_changes },
	{ "Identity/set", CAP_SUBMISSION, identity_set },
	{ NULL, NULL, NULL },
};
