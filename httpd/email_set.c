/* email_set.c — Email/set (RFC 8621 4.6): keywords and mailboxIds changed
 * (flags and keywords in the index and the file name, as IMAP STORE does;
 * a move keeps the message's unique name and id), messages destroyed
 * (expunged), and messages created (email_make.c). */
#include "httpd/email.h"
#include "httpd/email_make.h"
#include "httpd/jmap.h"
#include "httpd/jmap_util.h"
#include "httpd/journal.h"
#include "httpd/sess.h"
#include "common/log.h"
#include "common/mailindex.h"
#include "common/mailmove.h"
#include "common/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static const struct { uint32_t flag; const char *kw; } system_kw[] = {
	{ MI_SEEN, "$seen" }, { MI_FLAGGED, "$flagged" }, { MI_ANSWERED, "$answered" },
	{ MI_DRAFT, "$draft" },
};

/* An IMAP keyword (RFC 3501 atom without the list and quoted specials). */
static bool valid_keyword(const char *k)
{
	size_t n = strlen(k);
	if (n == 0 || n > 255)
		return false;
	for (; *k; k++)
		if ((unsigned char)*k <= 0x20 || (unsigned char)*k >= 0x7f || strchr("(){]%*\"\\", *k))
			return false;
	return true;
}

/* The keywords object as IMAP flags and a keyword list; false if invalid. */
bool email_keywords_to_flags(json_t *kws, uint32_t *flags, char **keywords)
{
	*flags = 0;
	*keywords = NULL;
	if (!json_is_object(kws))
		return false;
	struct { char *s; size_t n; } out = { xstrdup(""), 0 };
	const char *k;
	json_t *v;
	json_object_foreach(kws, k, v) {
		if (!json_is_true(v) || !valid_keyword(k)) {
			free(out.s);
			return false;
		}
		char *low = xstrdup(k);
		for (char *p = low; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		size_t i = 0;
		while (i < ARRAY_LEN(system_kw) && strcmp(system_kw[i].kw, low))
			i++;
		if (i < ARRAY_LEN(system_kw)) {
			*flags |= system_kw[i].flag;
		} else if (out.n + strlen(low) + 2 < MI_MAX_KEYWORDS_LEN) {
			char *n = out.n ? xasprintf("%s %s", out.s, low) : xstrdup(low);
			free(out.s);
			out.s = n;
			out.n = strlen(n);
		}
		free(low);
	}
	*keywords = out.s;
	return true;
}

/* Apply one patch entry (RFC 8620 5.3: a property, or a pointer into one)
 * to kws or mbs. NULL, or the SetError. */
static json_t *patch_one(struct jcall *c, const char *key, json_t *v, json_t **kws, json_t **mbs)
{
	if (!strcmp(key, "keywords") || !strcmp(key, "mailboxIds")) {
		if (!json_is_object(v))
			return jmap_set_error("invalidProperties", NULL, key);
		json_t **target = key[0] == 'k' ? kws : mbs;
		json_decref(*target);
		*target = json_object();
		const char *k;
		json_t *x;
		json_object_foreach(v, k, x) {
			const char *id = key[0] == 'm' ? jmap_resolve_id(c, k) : k;
			if (!id || !json_is_true(x))
				return jmap_set_error("invalidProperties", NULL, key);
			json_object_set_new(*target, id, json_true());
		}
		return NULL;
	}
	bool kw = !strncmp(key, "keywords/", 9), mb = !strncmp(key, "mailboxIds/", 11);
	if (!kw && !mb)
		return jmap_set_error("invalidProperties", "only keywords and mailboxIds can change",
				      key);
	const char *name = key + (kw ? 9 : 11);
	const char *id = mb ? jmap_resolve_id(c, name) : name;
	if (!id || !*id || strchr(name, '/') || !(json_is_true(v) || json_is_null(v)))
		return jmap_set_error("invalidPatch", NULL, key);
	json_t *target = kw ? *kws : *mbs;
	char *low = xstrdup(id);
	if (kw)
		for (char *p = low; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	if (json_is_true(v))
		json_object_set_new(target, low, json_true());
	else
		json_object_del(target, low);
	free(low);
	return NULL;
}

static json_t *update_one(struct jcall *c, const char *id, json_t *patch)
{
	struct email e;
	if (!json_is_object(patch))
		return jmap_set_error("invalidPatch", NULL, NULL);
	if (!email_find(c->s, id, &e))
		return jmap_set_error("notFound", NULL, NULL);
	json_t *kws = email_keywords(&e.rec), *mbs = json_pack("{s:b}", e.f->id, 1), *err = NULL;
	const char *k;
	json_t *v;
	json_object_foreach(patch, k, v)
		if (!err)
			err = patch_one(c, k, v, &kws, &mbs);
	uint32_t flags;
	char *keywords = NULL;
	const struct folder *to = NULL;
	if (!err && !email_keywords_to_flags(kws, &flags, &keywords))
		err = jmap_set_error("invalidProperties", "keywords", "keywords");
	if (!err && json_object_size(mbs) != 1)
		err = json_object_size(mbs) ? jmap_set_error("tooManyMailboxes", "one mailbox per email",
							     "mailboxIds")
					    : jmap_set_error("invalidProperties", "no mailbox", "mailboxIds");
	if (!err) {
		void *it = json_object_iter(mbs);
		to = account_folder(&c->s->acct, json_object_iter_key(it));
		if (!to)
			err = jmap_set_error("invalidProperties", "no such mailbox", "mailboxIds");
	}
	if (!err)
		err = email_apply(&e, flags | (e.rec.flags & MI_DELETED), keywords, to);
	free(keywords);
	json_decref(kws);
	json_decref(mbs);
	email_close(&e);
	return err;
}

json_t *email_apply(struct email *e, uint32_t flags, const char *keywords, const struct folder *to)
{
	char why[256];
	struct mi *mi = mi_open(e->f->dir, NULL, NULL, why, sizeof why);
	if (!mi)
		return jmap_set_error("serverFail", why, NULL);
	int r = 0;
	if (flags != e->rec.flags || strcmp(keywords, e->rec.keywords ? e->rec.keywords : ""))
		r = mi_set_flags(mi, e->rec.uid, flags, keywords);
	if (r == 0 && to != e->f) {
		struct mi *dst = mi_open(to->dir, NULL, NULL, why, sizeof why);
		uint32_t nu;
		r = dst ? mi_move(mi, e->rec.uid, to->dir, dst, &nu) : -1;
		if (dst)
			mi_close(dst);
	}
	mi_close(mi);
	return r == 0 ? NULL : jmap_set_error("serverFail", "the message could not be changed", NULL);
}

static json_t *destroy_one(struct jcall *c, const char *id, json_t *args)
{
	struct email e;
	if (!email_find(c->s, id, &e))
		return jmap_set_error("notFound", NULL, NULL);
	char why[256];
	struct mi *mi = mi_open(e.f->dir, NULL, NULL, why, sizeof why);
	int r = mi ? mi_expunge(mi, e.rec.uid) : -1;
	if (mi)
		mi_close(mi);
	email_close(&e);
	return r == 0 ? NULL : jmap_set_error("serverFail", "the message could not be removed", NULL);
}

static void resync(struct jcall *c)
{
	account_sync(&c->s->acct);
}

void jmap_email_set(struct jcall *c, json_t *args)
{
	static const char *const known[] = { "accountId", "ifInState", "create", "update", "destroy",
					     NULL };
	static const struct jmap_set_ops ops = { email_create, update_one, destroy_one, resync };
	jmap_set_run(c, args, "Email", known, &ops);
}
