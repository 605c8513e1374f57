/* account.c — syncing the JMAP view of the account with the Maildir (see
 * account.h and journal.h). */
#include "httpd/account.h"
#include "httpd/journal.h"
#include "common/log.h"
#include "common/mailindex.h"
#include "common/map.h"
#include "common/mailstore.h"
#include "common/threadid.h"
#include "common/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* One sync: the journal, the folders before and after, what changed. */
struct sync {
	struct journal *j;
	struct threadids tid;	/* the thread store (common/threadid.h) */
	json_t *old, *now;	/* folder id -> {"name","uv","ms","t","u","tt","ut","sub"} */
	json_t *removed;	/* emailid -> {"f", "t"} */
	json_t *added;		/* [{"e","f","u","r","p"}] */
	json_t *chg;		/* {"Mailbox": {"c","u","d","k"}, "Email": ..., "Thread": ...} */
};

void account_init(struct account *a)
{
	memset(a, 0, sizeof *a);
	a->stamps = json_object();
}

static void free_folders(struct account *a)
{
	for (size_t i = 0; i < a->nf; i++) {
		free(a->f[i].name);
		free(a->f[i].dir);
		free(a->f[i].display);
	}
	free(a->f);
	a->f = NULL;
	a->nf = 0;
}

void account_free(struct account *a)
{
	free_folders(a);
	json_decref(a->stamps);
}

/* ---- change lists ---- */

static void note(struct sync *x, const char *type, const char *kind, const char *id)
{
	json_t *t = json_object_get(x->chg, type);
	if (!t) {
		t = json_object();
		json_object_set_new(x->chg, type, t);
	}
	json_t *a = json_object_get(t, kind);
	if (!a) {
		a = json_array();
		json_object_set_new(t, kind, a);
	}
	json_array_append_new(a, json_string(id));
}

/* ---- counts: per folder, and per folder and thread (P records) ---- */

static uint32_t num(json_t *o, const char *k)
{
	return (uint32_t)json_integer_value(json_object_get(o, k));
}

static void bump(json_t *o, const char *k, int d)
{
	json_object_set_new(o, k, json_integer((json_int_t)num(o, k) + d));
}

/* One email of thread t in folder f joins (d = 1) or leaves (-1), unread or
 * not; the folder's thread counts follow its P record. */
static void count(struct sync *x, const char *f, const char *t, bool unread, int d)
{
	json_t *fo = json_object_get(x->now, f);
	if (!fo)
		return;
	bump(fo, "t", d);
	if (unread)
		bump(fo, "u", d);
	char *key = xasprintf("P%s:%s", f, t);
	char *v = journal_get(x->j, key);
	unsigned n = 0, un = 0;
	if (v)
		sscanf(v, "%u %u", &n, &un);
	free(v);
	unsigned n2 = (unsigned)((int)n + d), un2 = unread ? (unsigned)((int)un + d) : un;
	if ((n == 0) != (n2 == 0))
		bump(fo, "tt", n2 ? 1 : -1);
	if ((un == 0) != (un2 == 0))
		bump(fo, "ut", un2 ? 1 : -1);
	if (n2 == 0) {
		journal_del(x->j, key);
	} else {
		char val[32];
		snprintf(val, sizeof val, "%u %u", n2, un2);
		journal_put(x->j, key, val);
	}
	free(key);
}

/* ---- messages ---- */

struct uval {
	char e[OBJECTID_LEN + 1], t[OBJECTID_LEN + 1];
	int unread;
};

static bool parse_uval(const char *v, struct uval *u)
{
	return v && sscanf(v, "%25s %25s %d", u->e, u->t, &u->unread) == 3;
}

static char *ukey(const char *f, uint32_t uid)
{
	return xasprintf("U%s:%08" PRIx32, f, uid);
}

static bool rec_unread(const struct mi_rec *r)
{
	return !(r->flags & (MI_SEEN | MI_DRAFT));	/* RFC 8621 2: neither $seen nor $draft */
}

static void gone(struct sync *x, const char *f, const char *key, const char *val)
{
	struct uval u;
	if (!parse_uval(val, &u))
		return;
	count(x, f, u.t, u.unread, -1);
	journal_del(x->j, key);
	json_object_set_new(x->removed, u.e, json_pack("{s:s, s:s}", "f", f, "t", u.t));
}

static void arrived(struct sync *x, const char *f, const char *dir, const struct mi_rec *r)
{
	char e[OBJECTID_LEN + 1];
	objectid_email(r->file, e);
	char *path = xasprintf("%s/cur/%s", dir, r->file);
	json_array_append_new(x->added, json_pack("{s:s, s:s, s:I, s:b, s:s}", "e", e, "f", f, "u",
						  (json_int_t)r->uid, "r", rec_unread(r), "p", path));
	free(path);
}

/* A record that was there and changed (flags, keywords). */
static void changed(struct sync *x, const char *f, const char *key, const char *val,
		    const struct mi_rec *r)
{
	struct uval u;
	if (!parse_uval(val, &u))
		return;
	int unread = rec_unread(r);
	if (unread != u.unread) {
		count(x, f, u.t, u.unread, -1);
		count(x, f, u.t, unread, 1);
		char *nv = xasprintf("%s %s %d", u.e, u.t, unread);
		journal_put(x->j, key, nv);
		free(nv);
	}
	note(x, "Email", "u", u.e);
}

static void one_record(struct sync *x, const char *f, const char *dir, const struct mi_rec *r)
{
	char *key = ukey(f, r->uid);
	char *val = journal_get(x->j, key);
	if (val)
		changed(x, f, key, val, r);
	else
		arrived(x, f, dir, r);
	free(val);
	free(key);
}

struct prefix_collect {
	json_t *kv;	/* key -> value */
};

static int collect(const char *key, const char *val, size_t vlen, void *arg)
{
	json_object_set_new(((struct prefix_collect *)arg)->kv, key, json_string(val));
	return 0;
}

/* The U records of folder f: {key: value}. */
static json_t *known_of(struct sync *x, const char *f)
{
	char *prefix = xasprintf("U%s:", f);
	struct prefix_collect pc = { json_object() };
	map_each_prefix(x->j->m, prefix, collect, &pc);
	free(prefix);
	return pc.kv;
}

/* Every message of the folder against every one we knew: O(folder), when
 * the index cannot list its changes since our MODSEQ. */
static void full_diff(struct sync *x, const char *f, const char *dir, struct mi *mi)
{
	json_t *known = known_of(x, f);
	struct mi_rec *recs;
	size_t n;
	if (mi_load(mi, &recs, &n) < 0) {
		json_decref(known);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char *key = ukey(f, recs[i].uid);
		json_t *v = json_object_get(known, key);
		if (v) {
			struct uval u;
			if (parse_uval(json_string_value(v), &u) && u.unread != rec_unread(&recs[i]))
				changed(x, f, key, json_string_value(v), &recs[i]);
			json_object_del(known, key);
		} else {
			arrived(x, f, dir, &recs[i]);
		}
		free(key);
	}
	mi_recs_free(recs, n);
	const char *key;
	json_t *v;
	json_object_foreach(known, key, v)
		gone(x, f, key, json_string_value(v));
	json_decref(known);
}

static void since(struct sync *x, const char *f, const char *dir, struct mi *mi, uint64_t ms)
{
	struct mi_rec *recs;
	size_t n;
	if (mi_changed_since(mi, ms, &recs, &n) < 0) {
		full_diff(x, f, dir, mi);
		return;
	}
	for (size_t i = 0; i < n; i++)
		one_record(x, f, dir, &recs[i]);
	mi_recs_free(recs, n);
	uint32_t *uids;
	size_t nu = mi_expunged_since(mi, ms, &uids);
	for (size_t i = 0; i < nu; i++) {
		char *key = ukey(f, uids[i]);
		char *val = journal_get(x->j, key);
		if (val)
			gone(x, f, key, val);
		free(val);
		free(key);
	}
	free(uids);
}

/* Everything we knew of folder f is gone (folder deleted, or its index
 * rebuilt with a new UIDVALIDITY). */
static void all_gone(struct sync *x, const char *f)
{
	json_t *known = known_of(x, f);
	const char *key;
	json_t *v;
	json_object_foreach(known, key, v)
		gone(x, f, key, json_string_value(v));
	json_decref(known);
}

/* ---- folders ---- */

static char *stamp_of(const char *dir)
{
	static const char *const parts[] = { "tern-index.db", "new", "cur" };
	struct evbuf { char s[200]; size_t n; } b = { "", 0 };
	for (size_t i = 0; i < ARRAY_LEN(parts); i++) {
		struct stat st;
		char *p = xasprintf("%s/%s", dir, parts[i]);
		if (stat(p, &st) == 0)
			b.n += (size_t)snprintf(b.s + b.n, sizeof b.s - b.n, "%lld.%ld/",
						(long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
		free(p);
	}
	return xstrdup(b.s);
}

/* Sync one folder into x->now[id]. */
static void sync_folder(struct sync *x, struct account *a, const char *name, bool reuse)
{
	char *dir = ms_folder_dir(name);
	char id[OBJECTID_LEN + 1];
	if (!dir || objectid_mailbox(dir, id) < 0) {
		log_warn("jmap: folder %s has no id: skipped", name);
		free(dir);
		return;
	}
	json_t *old = json_object_get(x->old, id);
	json_t *fo = old ? json_deep_copy(old) : json_pack("{s:i, s:i, s:i, s:i}", "t", 0, "u", 0,
							   "tt", 0, "ut", 0);
	json_object_set_new(fo, "name", json_string(name));
	json_object_set_new(x->now, id, fo);
	char *stamp = stamp_of(dir);
	const char *was = json_string_value(json_object_get(a->stamps, dir));
	if (old && reuse && was && !strcmp(was, stamp)) {
		free(stamp);
		free(dir);
		return;		/* nothing touched it since we last looked */
	}
	free(stamp);
	char why[256];
	struct mi *mi = mi_open(dir, NULL, NULL, why, sizeof why);
	if (!mi) {
		log_warn("jmap: %s", why);
		free(dir);
		return;
	}
	const struct mi_header *h = mi_header(mi);
	uint64_t oms = (uint64_t)json_integer_value(json_object_get(old, "ms"));
	if (!old) {
		full_diff(x, id, dir, mi);
	} else if ((uint32_t)json_integer_value(json_object_get(old, "uv")) != h->uidvalidity) {
		all_gone(x, id);
		full_diff(x, id, dir, mi);
	} else if (oms != h->modseq) {
		since(x, id, dir, mi, oms);
	}
	json_object_set_new(fo, "uv", json_integer(h->uidvalidity));
	json_object_set_new(fo, "ms", json_integer((json_int_t)h->modseq));
	mi_close(mi);
	char *after = stamp_of(dir);	/* mi_open may have moved new/ to cur/ */
	json_object_set_new(a->stamps, dir, json_string(after));
	free(after);
	free(dir);
}

/* ---- threads and the messages' final fate ---- */

static void thread_join(struct sync *x, const char *t, const char *e)
{
	char *key = xasprintf("t%s", t);
	char *v = journal_get(x->j, key);
	char *nv = v && *v ? xasprintf("%s %s", v, e) : xstrdup(e);
	journal_put(x->j, key, nv);
	note(x, "Thread", v ? "u" : "c", t);
	free(nv);
	free(v);
	free(key);
}

static void thread_leave(struct sync *x, const char *t, const char *e)
{
	char *key = xasprintf("t%s", t);
	char *v = journal_get(x->j, key);
	if (!v) {
		free(key);
		return;
	}
	/* remove the word e from the list */
	struct evb { char *s; } out = { xstrdup("") };
	char *save = NULL;
	for (char *w = strtok_r(v, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		if (!strcmp(w, e))
			continue;
		char *n = *out.s ? xasprintf("%s %s", out.s, w) : xstrdup(w);
		free(out.s);
		out.s = n;
	}
	if (*out.s) {
		journal_put(x->j, key, out.s);
		note(x, "Thread", "u", t);
	} else {
		journal_del(x->j, key);
		note(x, "Thread", "d", t);
	}
	free(out.s);
	free(v);
	free(key);
}

/* An email not seen in this sync's removals: its thread from the store
 * (imapd's THREADID may have fixed it already), joined unless the email is
 * known here (a second copy under the same name). */
static void place_new(struct sync *x, const char *path, const char *e, char t[OBJECTID_LEN + 1])
{
	if (!threadid_get(&x->tid, path, e, t))
		snprintf(t, OBJECTID_LEN + 1, "T%s", e + 1);
	char *ekey = xasprintf("E%s", e), *where = journal_get(x->j, ekey);
	free(ekey);
	if (where) {
		note(x, "Email", "u", e);
	} else {
		thread_join(x, t, e);
		note(x, "Email", "c", e);
	}
	free(where);
}

static void place(struct sync *x, json_t *a)
{
	const char *e = json_string_value(json_object_get(a, "e"));
	const char *f = json_string_value(json_object_get(a, "f"));
	uint32_t uid = (uint32_t)json_integer_value(json_object_get(a, "u"));
	bool unread = json_is_true(json_object_get(a, "r"));
	char t[OBJECTID_LEN + 1] = "";
	json_t *rm = json_object_get(x->removed, e);
	if (rm) {
		/* moved (IMAP MOVE keeps the unique name): the same email */
		strlcpy_t(t, json_string_value(json_object_get(rm, "t")), sizeof t);
		json_object_del(x->removed, e);
		note(x, "Email", "u", e);
	} else {
		place_new(x, json_string_value(json_object_get(a, "p")), e, t);
	}
	char *key = ukey(f, uid), *val = xasprintf("%s %s %d", e, t, unread);
	journal_put(x->j, key, val);
	free(val);
	free(key);
	char *ekey = xasprintf("E%s", e), *loc = xasprintf("%s %" PRIu32, f, uid);
	journal_put(x->j, ekey, loc);
	free(ekey);
	free(loc);
	count(x, f, t, unread, 1);
}

static void settle(struct sync *x)
{
	size_t i;
	json_t *a;
	json_array_foreach(x->added, i, a)
		place(x, a);
	const char *e;
	json_t *rm;
	json_object_foreach(x->removed, e, rm) {
		char *key = xasprintf("E%s", e);
		journal_del(x->j, key);
		free(key);
		threadid_forget(&x->tid, e);
		thread_leave(x, json_string_value(json_object_get(rm, "t")), e);
		note(x, "Email", "d", e);
	}
}

/* Mailbox changes: new and gone folders, renames and subscription changes
 * (full updates), counts (counts-only updates). */
static void mailbox_changes(struct sync *x, json_t *subs)
{
	const char *id;
	json_t *n;
	json_object_foreach(x->now, id, n) {
		json_object_set_new(n, "sub", json_boolean(json_object_get(subs,
			json_string_value(json_object_get(n, "name"))) != NULL));
		json_t *o = json_object_get(x->old, id);
		if (!o) {
			note(x, "Mailbox", "c", id);
			continue;
		}
		if (!json_equal(json_object_get(o, "name"), json_object_get(n, "name")) ||
		    !json_equal(json_object_get(o, "sub"), json_object_get(n, "sub")))
			note(x, "Mailbox", "u", id);
		else if (num(o, "t") != num(n, "t") || num(o, "u") != num(n, "u") ||
			 num(o, "tt") != num(n, "tt") || num(o, "ut") != num(n, "ut"))
			note(x, "Mailbox", "k", id);
	}
	json_object_foreach(x->old, id, n)
		if (!json_object_get(x->now, id))
			note(x, "Mailbox", "d", id);
}

/* The messages of deleted folders are gone (before settle: a message moved
 * out of a folder that was then deleted is still the same email). */
static void folders_gone(struct sync *x)
{
	const char *id;
	json_t *n;
	json_object_foreach(x->old, id, n) {
		if (json_object_get(x->now, id))
			continue;
		all_gone(x, id);
		char *prefix = xasprintf("P%s:", id);
		struct prefix_collect pc = { json_object() };
		map_each_prefix(x->j->m, prefix, collect, &pc);
		const char *key;
		json_t *v;
		json_object_foreach(pc.kv, key, v)
			journal_del(x->j, key);
		json_decref(pc.kv);
		free(prefix);
	}
}

static json_t *subscriptions(void)
{
	char **names;
	size_t n = ms_subscriptions(&names);
	json_t *o = json_object();
	for (size_t i = 0; i < n; i++)
		json_object_set_new(o, names[i], json_true());
	ms_free_list(names, n);
	return o;
}

/* ---- the folder list ---- */

/* A folder's role: INBOX's, else that of its first special-use attribute
 * (IMAP CREATE may give several, space-separated; a Mailbox has one role). */
static const char *role_of(const char *name)
{
	static const char *const map[][2] = {
		{ "\\Sent", "sent" }, { "\\Drafts", "drafts" }, { "\\Trash", "trash" },
		{ "\\Junk", "junk" }, { "\\Archive", "archive" },
	};
	if (ms_is_inbox(name))
		return "inbox";
	const char *use = ms_special_use(name);
	while (use && *use) {
		size_t n = strcspn(use, " ");
		for (size_t i = 0; i < ARRAY_LEN(map); i++)
			if (strlen(map[i][0]) == n && !strncmp(use, map[i][0], n))
				return map[i][1];
		use += n + strspn(use + n, " ");
	}
	return NULL;
}

/* The UTF-8 form of a stored name; bytes that are not UTF-8 (another tool
 * wrote raw 8-bit) become U+FFFD, since JSON carries UTF-8 only. */
static char *utf8_name(const char *stored)
{
	char *u = ms_name_to_utf8(stored);
	if (u)
		return u;
	size_t n = strlen(stored);
	char *out = xmalloc(n * 3 + 1), *o = out;
	for (const unsigned char *p = (const unsigned char *)stored; *p; p++) {
		if (*p < 0x80) {
			*o++ = (char)*p;
		} else {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
		}
	}
	*o = '\0';
	return out;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct folder *)a)->name, ((const struct folder *)b)->name);
}

static void load_folders(struct account *a, json_t *now)
{
	free_folders(a);
	a->f = xcalloc(json_object_size(now) + 1, sizeof *a->f);
	const char *id;
	json_t *o;
	json_object_foreach(now, id, o) {
		struct folder *f = &a->f[a->nf++];
		f->name = xstrdup(json_string_value(json_object_get(o, "name")));
		f->dir = ms_folder_dir(f->name);
		strlcpy_t(f->id, id, sizeof f->id);
		f->role = role_of(f->name);
		/* INBOX is there whether or not a client subscribed it */
		f->subscribed = json_is_true(json_object_get(o, "sub")) || ms_is_inbox(f->name);
		f->total = num(o, "t");
		f->unread = num(o, "u");
		f->threads = num(o, "tt");
		f->unread_threads = num(o, "ut");
	}
	qsort(a->f, a->nf, sizeof *a->f, by_name);
	/* parent: the nearest existing ancestor; the name is what is below it */
	for (size_t i = 0; i < a->nf; i++) {
		struct folder *f = &a->f[i];
		const char *below = f->name;
		char *up = xstrdup(f->name), *dot;
		while ((dot = strrchr(up, MS_SEP))) {
			*dot = '\0';
			const struct folder *p = account_folder_by_name(a, up);
			if (p) {
				strlcpy_t(f->parent, p->id, sizeof f->parent);
				below = f->name + strlen(up) + 1;
				break;
			}
		}
		free(up);
		f->display = utf8_name(below);
	}
}

const struct folder *account_folder(const struct account *a, const char *id)
{
	for (size_t i = 0; i < a->nf; i++)
		if (!strcmp(a->f[i].id, id))
			return &a->f[i];
	return NULL;
}

const struct folder *account_folder_by_name(const struct account *a, const char *name)
{
	for (size_t i = 0; i < a->nf; i++)
		if (!strcmp(a->f[i].name, name) || (ms_is_inbox(name) && ms_is_inbox(a->f[i].name)))
			return &a->f[i];
	return NULL;
}

/* ---- the sync ---- */

int account_sync(struct account *a)
{
	struct sync x = { .j = journal_open(true) };
	if (!x.j)
		return -1;
	threadid_migrate(x.j->m);
	x.old = journal_get_json(x.j, "S");
	if (!json_is_object(x.old)) {
		json_decref(x.old);
		x.old = json_object();
	}
	x.now = json_object();
	x.removed = json_object();
	x.added = json_array();
	x.chg = json_object();
	/* another process wrote since our last sync: our stamps say nothing */
	uint64_t n = (uint64_t)json_integer_value(json_object_get(x.j->n, "n"));
	bool reuse = n == a->synced_n && a->synced_n != 0;
	char **names;
	size_t nn = ms_list(&names);
	for (size_t i = 0; i < nn; i++)
		sync_folder(&x, a, names[i], reuse);
	ms_free_list(names, nn);
	folders_gone(&x);
	settle(&x);
	json_t *subs = subscriptions();
	mailbox_changes(&x, subs);
	json_decref(subs);
	if (!json_equal(x.old, x.now))
		journal_put_json(x.j, "S", x.now);
	journal_record(x.j, x.chg);
	a->synced_n = (uint64_t)json_integer_value(json_object_get(x.j->n, "n"));
	load_folders(a, x.now);
	json_decref(x.old);
	json_decref(x.now);
	json_decref(x.removed);
	json_decref(x.added);
	json_decref(x.chg);
	threadid_end(&x.tid);
	journal_close(x.j);
	return 0;
}

bool account_locate(struct journal *j, const struct account *a, const char *id,
		    const struct folder **f, uint32_t *uid)
{
	if (!objectid_valid(id, 'E'))
		return false;
	char *key = xasprintf("E%s", id);
	char *v = journal_get(j, key);
	free(key);
	char fid[OBJECTID_LEN + 2];
	bool ok = v && sscanf(v, "%25s %" SCNu32, fid, uid) == 2 && (*f = account_folder(a, fid));
	free(v);
	return ok;
}

void account_thread_of(const char *id, char out[OBJECTID_LEN + 1])
{
	struct threadids t = { 0 };
	if (!threadid_known(&t, id, out))
		out[0] = '\0';
	threadid_end(&t);
}
