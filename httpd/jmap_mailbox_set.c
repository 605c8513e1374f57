/* jmap_mailbox_set.c — Mailbox/set (RFC 8621 2.5): folders created,
 * renamed or moved (children follow), subscribed, and destroyed. A JMAP
 * name is one level: it may not hold the hierarchy separator '.'. */
#include "httpd/jmap.h"
#include "httpd/jmap_util.h"
#include "httpd/journal.h"
#include "httpd/sess.h"
#include "common/log.h"
#include "common/mailstore.h"
#include "common/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NAME_MAX_BYTES 255

/* The stored name for display name under parent (NULL: top), or NULL with
 * *err set. */
static char *stored_name(const char *name, const struct folder *parent, json_t **err)
{
	size_t n = strlen(name);
	bool bad = n == 0 || n > NAME_MAX_BYTES || strchr(name, MS_SEP) || strchr(name, '/');
	for (const char *p = name; !bad && *p; p++)
		bad = (unsigned char)*p < 0x20 || *p == 0x7f;
	char *enc = bad ? NULL : ms_name_from_utf8(name);
	if (!enc) {
		*err = jmap_set_error("invalidProperties", "name: 1-255 bytes of UTF-8, no '.' or '/'",
				      "name");
		return NULL;
	}
	char *full = parent ? xasprintf("%s%c%s", parent->name, MS_SEP, enc) : xstrdup(enc);
	free(enc);
	if (!ms_valid_name(full) || (!parent && ms_is_inbox(full))) {
		*err = jmap_set_error("invalidProperties", "name", "name");
		free(full);
		return NULL;
	}
	if (ms_exists(full)) {
		*err = jmap_set_error("invalidProperties", "a sibling has this name", "name");
		free(full);
		return NULL;
	}
	return full;
}

/* The parent named by v (null: top): false with *err when unknown. */
static bool parent_of(struct jcall *c, json_t *v, const struct folder **out, json_t **err)
{
	*out = NULL;
	if (!v || json_is_null(v))
		return true;
	const char *id = json_is_string(v) ? jmap_resolve_id(c, json_string_value(v)) : NULL;
	*out = id ? account_folder(&c->s->acct, id) : NULL;
	if (!*out)
		*err = jmap_set_error("invalidProperties", "parentId: no such mailbox", "parentId");
	return *out != NULL;
}

static bool only_keys(json_t *o, const char *const *allowed, json_t **err)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		const char *const *a = allowed;
		while (*a && strcmp(*a, k))
			a++;
		if (!*a) {
			*err = jmap_set_error("invalidProperties", "not a property the client may set", k);
			return false;
		}
	}
	json_t *role = json_object_get(o, "role");
	if (role && !json_is_null(role)) {
		*err = jmap_set_error("invalidProperties", "roles are given by the server", "role");
		return false;
	}
	json_t *sub = json_object_get(o, "isSubscribed"), *so = json_object_get(o, "sortOrder");
	if ((sub && !json_is_boolean(sub)) || (so && !json_is_integer(so))) {
		*err = jmap_set_error("invalidProperties", NULL, sub && !json_is_boolean(sub)
							 ? "isSubscribed" : "sortOrder");
		return false;
	}
	return true;
}

static const char *const settable[] = { "name", "parentId", "isSubscribed", "sortOrder", "role",
					NULL };

static json_t *create_one(struct jcall *c, const char *cid, json_t *o)
{
	json_t *err = NULL;
	const struct folder *parent;
	const char *name = json_string_value(json_object_get(o, "name"));
	if (!json_is_object(o) || !only_keys(o, settable, &err))
		return err ? err : jmap_set_error("invalidProperties", NULL, NULL);
	if (!name)
		return jmap_set_error("invalidProperties", "name is required", "name");
	if (!parent_of(c, json_object_get(o, "parentId"), &parent, &err))
		return err;
	char *full = stored_name(name, parent, &err);
	if (!full)
		return err;
	if (ms_create(full) < 0) {
		log_err("jmap: user=%s: cannot create %s: %s", c->s->user, full, strerror(errno));
		free(full);
		return jmap_set_error("serverFail", "cannot create the folder", NULL);
	}
	if (json_is_true(json_object_get(o, "isSubscribed")))
		ms_subscribe(full, true);
	account_sync(&c->s->acct);
	const struct folder *f = account_folder_by_name(&c->s->acct, full);
	free(full);
	if (!f)
		return jmap_set_error("serverFail", "the folder vanished", NULL);
	jmap_created(c, cid, f->id);
	return NULL;
}

static bool below(const struct account *a, const struct folder *f, const struct folder *anc)
{
	for (int depth = 0; f && depth < 64; depth++) {
		if (f == anc)
			return true;
		f = *f->parent ? account_folder(a, f->parent) : NULL;
	}
	return false;
}

static json_t *update_one(struct jcall *c, const char *id, json_t *patch)
{
	json_t *err = NULL;
	const struct folder *f = account_folder(&c->s->acct, id);
	if (!f)
		return jmap_set_error("notFound", NULL, NULL);
	if (!json_is_object(patch) || !only_keys(patch, settable, &err))
		return err ? err : jmap_set_error("invalidPatch", NULL, NULL);
	json_t *nv = json_object_get(patch, "name"), *pv = json_object_get(patch, "parentId");
	char *old = xstrdup(f->name);
	bool subscribed = f->subscribed;
	if (nv || pv) {
		const struct folder *parent = NULL;
		if (f->role && !strcmp(f->role, "inbox")) {
			free(old);
			return jmap_set_error("forbidden", "INBOX cannot be renamed or moved", NULL);
		}
		if (pv ? !parent_of(c, pv, &parent, &err)
		       : (*f->parent && !(parent = account_folder(&c->s->acct, f->parent)))) {
			free(old);
			return err ? err : jmap_set_error("serverFail", NULL, NULL);
		}
		if (parent && below(&c->s->acct, parent, f)) {
			free(old);
			return jmap_set_error("invalidProperties", "a mailbox cannot go below itself",
					      "parentId");
		}
		const char *name = nv ? json_string_value(nv) : f->display;
		char *full = name ? stored_name(name, parent, &err) : NULL;
		if (!full) {
			free(old);
			return err ? err : jmap_set_error("invalidProperties", NULL, "name");
		}
		if (strcmp(full, old) && ms_rename(old, full) < 0) {
			free(full);
			free(old);
			return jmap_set_error("serverFail", "cannot rename", NULL);
		}
		if (subscribed) {
			ms_subscribe(old, false);
			ms_subscribe(full, true);
		}
		free(old);
		old = full;
	}
	json_t *sub = json_object_get(patch, "isSubscribed");
	if (sub)
		ms_subscribe(old, json_is_true(sub));
	free(old);
	account_sync(&c->s->acct);
	return NULL;
}

static json_t *destroy_one(struct jcall *c, const char *id, bool remove_emails)
{
	const struct account *a = &c->s->acct;
	const struct folder *f = account_folder(a, id);
	if (!f)
		return jmap_set_error("notFound", NULL, NULL);
	if (f->role && !strcmp(f->role, "inbox"))
		return jmap_set_error("forbidden", "INBOX cannot be destroyed", NULL);
	for (size_t i = 0; i < a->nf; i++)
		if (!strcmp(a->f[i].parent, id))
			return jmap_set_error("mailboxHasChild", NULL, NULL);
	if (f->total && !remove_emails)
		return jmap_set_error("mailboxHasEmail", NULL, NULL);
	char *name = xstrdup(f->name);
	int r = ms_delete(name);
	if (r == 0)
		ms_subscribe(name, false);
	free(name);
	if (r < 0)
		return jmap_set_error("serverFail", "cannot delete the folder", NULL);
	account_sync(&c->s->acct);
	return NULL;
}

static json_t *created_obj(struct jcall *c, const char *cid, json_t *o, json_t **err)
{
	*err = create_one(c, cid, o);
	if (*err)
		return NULL;
	const char *id = json_string_value(json_object_get(c->created_ids, cid));
	const struct folder *f = account_folder(&c->s->acct, id);
	return json_pack("{s:s, s:i, s:i, s:i, s:i, s:b, s:n}", "id", id, "totalEmails", 0,
			 "unreadEmails", 0, "totalThreads", 0, "unreadThreads", 0, "isSubscribed",
			 f && f->subscribed, "role");
}

static json_t *destroy_arg(struct jcall *c, const char *id, json_t *args)
{
	return destroy_one(c, id, json_is_true(json_object_get(args, "onDestroyRemoveEmails")));
}

void jmap_mailbox_set(struct jcall *c, json_t *args)
{
	static const char *const known[] = { "accountId", "ifInState", "create", "update", "destroy",
					     "onDestroyRemoveEmails", NULL };
	static const struct jmap_set_ops ops = { created_obj, update_one, destroy_arg, NULL };
	jmap_set_run(c, args, "Mailbox", known, &ops);
}
