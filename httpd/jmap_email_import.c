/* jmap_email_import.c — Email/import (RFC 8621 4.8): uploaded RFC 5322
 * messages filed into a mailbox with their keywords and receivedAt, sealed
 * like any stored message (email_store); and Email/copy (4.7), which has
 * only one account to copy within here. */
#include "httpd/jmap.h"
#include "httpd/blob.h"
#include "httpd/email.h"
#include "httpd/email_make.h"
#include "httpd/jmap_util.h"
#include "httpd/sess.h"
#include "common/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static json_t *import_one(struct jcall *c, const char *cid, json_t *obj)
{
	static const char *const known[] = { "blobId", "mailboxIds", "keywords", "receivedAt", NULL };
	const char *k;
	json_t *v, *err = NULL;
	if (!json_is_object(obj))
		return jmap_set_error("invalidProperties", "an EmailImport object", NULL);
	json_object_foreach(obj, k, v) {
		const char *const *p = known;
		while (*p && strcmp(*p, k))
			p++;
		if (!*p)
			return jmap_set_error("invalidProperties", "not an EmailImport property", k);
	}
	const char *bid = json_string_value(json_object_get(obj, "blobId"));
	if (!bid)
		return jmap_set_error("invalidProperties", "a blobId", "blobId");
	bid = jmap_resolve_id(c, bid);
	const struct folder *f = email_target(c, json_object_get(obj, "mailboxIds"), &err);
	if (!f)
		return err;
	int fd;
	size_t len;
	if (!bid || blob_open(c->s, bid, &fd, &len) < 0)
		return jmap_set_error("blobNotFound", NULL, "blobId");
	json_t *out = NULL;
	if (!email_blob_is_message(fd, len))
		err = jmap_set_error("invalidEmail", "the blob is not an RFC 5322 message", "blobId");
	else
		out = email_store(c, cid, f, obj, fd, &err);
	close(fd);
	return out ? out : err;
}

static void email_import(struct jcall *c, json_t *args)
{
	static const char *const known[] = { "accountId", "ifInState", "emails", NULL };
	json_t *emails = json_object_get(args, "emails"), *in = json_object_get(args, "ifInState");
	if (!jmap_account_ok(c, args) || !jmap_args_known(c, args, known))
		return;
	if (!json_is_object(emails) || (in && !json_is_null(in) && !json_is_string(in))) {
		jmap_error(c, "invalidArguments", "emails (an object) or ifInState");
		return;
	}
	if (json_object_size(emails) > c->s->conf->lim.max_objects_in_set) {
		jmap_error(c, "requestTooLarge", "more objects than maxObjectsInSet");
		return;
	}
	char *old = jmap_type_state("Email");
	if (json_is_string(in) && strcmp(json_string_value(in), old)) {
		jmap_error(c, "stateMismatch", NULL);
		free(old);
		return;
	}
	json_t *created = json_object(), *not_created = json_object();
	const char *cid;
	json_t *v;
	json_object_foreach(emails, cid, v) {
		json_t *r = import_one(c, cid, v);
		json_object_set_new(json_object_get(r, "type") ? not_created : created, cid, r);
	}
	char *now = jmap_type_state("Email");
	jmap_reply(c, "Email/import", json_pack("{s:s, s:s, s:s, s:o, s:o}", "accountId",
		   c->s->account, "oldState", old, "newState", now, "created", created,
		   "notCreated", not_created));
	free(old);
	free(now);
}

/* RFC 8620 5.4: fromAccountId must name another account; this server has
 * one account per user, so no copy can be made. */
static void email_copy(struct jcall *c, json_t *args)
{
	json_t *from = json_object_get(args, "fromAccountId");
	if (!json_is_string(from)) {
		jmap_error(c, "invalidArguments", "fromAccountId");
		return;
	}
	if (!jmap_account_ok(c, args))
		return;
	if (!strcmp(json_string_value(from), c->s->account))
		jmap_error(c, "invalidArguments", "fromAccountId must differ from accountId");
	else
		jmap_error(c, "fromAccountNotFound", NULL);
}

const struct jmap_method jmap_email_import_methods[] = {
	{ "Email/import", CAP_MAIL, email_import },
	{ "Email/copy", CAP_MAIL, email_copy },
	{ NULL, NULL, NULL },
};
