/* resolve.c — recipient and sender checks and alias expansion.
 *
 * Expansion of an address A (normalised, lower-case):
 *   - A outside our domains: a remote target (forwarded by the local agent);
 *   - an alias for A (exactly, then without its +detail) expands to its targets
 *     ("@other" as a target means the same local part at domain other);
 *   - else a user (A without +detail) is a mailbox, the detail its folder;
 *   - else the catch-all alias "@domain", if any;
 *   - else A is unknown.
 * The +detail of the original address carries over to targets that have none.
 * A target already being expanded (a loop) is delivered if it is a user (an
 * alias that includes its own mailbox) and is an error otherwise; so is nesting
 * deeper than max_depth. */
#include "authd/resolve.h"
#include "common/log.h"
#include "common/site.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DETAIL_MAX (USERDB_MAX_LOCAL + 1)

struct walk {
	struct directory *db;
	const struct site *site;	/* NULL: one host */
	unsigned max_depth;
	bool catchall;
	bool unknown_seen;
	unsigned depth;
	const char *path[64];	/* addresses being expanded (loop detection) */
	struct expansion *out;
};

static int expand(struct walk *w, const char *addr, const char *detail);

static bool on_path(const struct walk *w, const char *a)
{
	for (unsigned i = 0; i < w->depth; i++)
		if (!strcmp(w->path[i], a))
			return true;
	return false;
}

/* Is the mail of user u stored on another host of the site? */
static bool elsewhere(const struct site *site, const struct userdb_user *u)
{
	return site && u && !site_is_local(site, u->host);
}

/* A final mailbox (u: its directory entry), or with u NULL a remote target.
 * A user stored on another host becomes a remote target: its address with
 * the +detail, so that host files it in the same folder. */
static int add_box(struct walk *w, const char *mailbox, const char *detail,
		   const struct userdb_user *u)
{
	char full[USERDB_MAX_ADDR];
	if (elsewhere(w->site, u)) {
		const char *at = strrchr(mailbox, '@');
		if (*detail && at && snprintf(full, sizeof full, "%.*s+%s%s", (int)(at - mailbox),
					      mailbox, detail, at) < (int)sizeof full)
			mailbox = full;
		detail = "";
		u = NULL;
	}
	bool remote = u == NULL;
	struct expansion *x = w->out;
	for (size_t i = 0; i < x->n; i++)
		if (!strcmp(x->box[i].mailbox, mailbox) && !strcmp(x->box[i].folder, detail))
			return EXPAND_OK;
	if (x->n == RESOLVE_MAX_BOXES)
		return EXPAND_LOOP;	/* absurd fan-out: treat like a runaway alias */
	strlcpy_t(x->box[x->n].mailbox, mailbox, USERDB_MAX_ADDR);
	strlcpy_t(x->box[x->n].folder, detail, DETAIL_MAX);
	x->box[x->n].quota = u ? u->quota : 0;
	strlcpy_t(x->box[x->n].host, u ? u->host : "", sizeof x->box[x->n].host);
	x->box[x->n].remote = remote;
	x->remote += remote;
	x->n++;
	return EXPAND_OK;
}

/* Expand each target of alias `key` (reached as `base`). */
static int expand_targets(struct walk *w, const char *key, const char *base, char *targets,
			  const char *detail)
{
	if (w->depth >= w->max_depth || w->depth >= ARRAY_LEN(w->path))
		return EXPAND_LOOP;
	w->path[w->depth++] = key;
	int st = EXPAND_OK;
	char *save = NULL;
	for (char *t = strtok_r(targets, ",", &save); t && st == EXPAND_OK; t = strtok_r(NULL, ",", &save)) {
		char a[USERDB_MAX_ADDR];
		if (t[0] == '@') {	/* domain alias: same local part elsewhere */
			const char *at = strrchr(base, '@');
			char *full = xasprintf("%.*s%s", (int)(at - base), base, t);
			bool ok = userdb_norm_address(full, a);
			free(full);
			if (!ok)
				continue;
		} else if (!userdb_norm_address(t, a)) {
			continue;	/* mailctl validates targets; skip anything odd */
		}
		st = expand(w, a, detail);
	}
	w->depth--;
	return st;
}

/* Alias lookup: 1 expanded (status in *st), 0 no alias, -1 db error. */
static int try_alias(struct walk *w, const char *key, const char *base, const char *detail, int *st)
{
	char *targets = NULL;
	int r = dir_alias_get(w->db, key, &targets);
	if (r == 1)
		*st = expand_targets(w, key, base, targets, detail);
	free(targets);
	return r;
}

static int expand(struct walk *w, const char *addr, const char *inherited)
{
	char base[USERDB_MAX_ADDR], detail[DETAIL_MAX];
	const char *domain = userdb_domain_of(addr);
	struct userdb_user u;
	int st = EXPAND_OK, r;

	int d = dir_domain_exists(w->db, domain);
	if (d < 0)
		return EXPAND_TEMPFAIL;
	if (d == 0)	/* the address as the alias names it: no +detail added */
		return add_box(w, addr, "", NULL);
	userdb_split_detail(addr, base, detail, sizeof detail);
	if (!detail[0])
		strlcpy_t(detail, inherited, sizeof detail);
	if (on_path(w, base) || on_path(w, addr)) {
		r = dir_user_get(w->db, base, &u);
		return r < 0 ? EXPAND_TEMPFAIL : r == 1 ? add_box(w, base, detail, &u) : EXPAND_LOOP;
	}
	if (strcmp(addr, base) && (r = try_alias(w, addr, base, detail, &st)) != 0)
		return r < 0 ? EXPAND_TEMPFAIL : st;
	if ((r = try_alias(w, base, base, detail, &st)) != 0)
		return r < 0 ? EXPAND_TEMPFAIL : st;
	r = dir_user_get(w->db, base, &u);
	if (r != 0)
		return r < 0 ? EXPAND_TEMPFAIL : add_box(w, base, detail, &u);
	if (w->catchall) {
		char *key = xasprintf("@%s", domain);
		r = on_path(w, key) ? 0 : try_alias(w, key, base, detail, &st);
		free(key);
		if (r != 0)
			return r < 0 ? EXPAND_TEMPFAIL : st;
	}
	w->unknown_seen = true;
	return EXPAND_OK;
}

enum expand_status resolve_expand(struct directory *db, const struct site *site,
				  const char *address, unsigned max_depth, struct expansion *out)
{
	char a[USERDB_MAX_ADDR];
	struct walk w = { .db = db, .site = site, .max_depth = max_depth, .catchall = true,
			  .out = out };
	memset(out, 0, sizeof *out);
	if (!userdb_norm_address(address, a))
		return EXPAND_UNKNOWN;
	int d = dir_domain_exists(db, userdb_domain_of(a));
	if (d != 1)	/* only addresses of our domains are expanded */
		return d < 0 ? EXPAND_TEMPFAIL : EXPAND_UNKNOWN;
	int st = expand(&w, a, "");
	if (st != EXPAND_OK)
		return st;
	/* Nothing to deliver or forward is a bounce. */
	return out->n ? EXPAND_OK : EXPAND_UNKNOWN;
}

enum rcpt_kind resolve_rcpt(struct directory *db, const struct site *site, const char *address,
			    char host[USERDB_MAX_HOST + 1])
{
	struct userdb_user u;
	char a[USERDB_MAX_ADDR], base[USERDB_MAX_ADDR], detail[DETAIL_MAX];
	char *catchall, *t = NULL;
	if (!userdb_norm_address(address, a))
		return RCPT_UNKNOWN;
	int d = dir_domain_exists(db, userdb_domain_of(a));
	if (d != 1)
		return d < 0 ? RCPT_TEMPFAIL : RCPT_REMOTE;
	userdb_split_detail(a, base, detail, sizeof detail);
	catchall = xasprintf("@%s", userdb_domain_of(a));
	const char *keys[] = { a, base, catchall };
	int r = dir_user_get(db, base, &u);
	if (r == 1 && elsewhere(site, &u)) {
		free(catchall);
		if (host)
			strlcpy_t(host, u.host, USERDB_MAX_HOST + 1);
		return RCPT_RELAY;
	}
	for (size_t i = 0; r == 0 && i < ARRAY_LEN(keys); i++) {
		r = dir_alias_get(db, keys[i], &t);
		free(t);
		t = NULL;
	}
	free(catchall);
	return r < 0 ? RCPT_TEMPFAIL : r == 1 ? RCPT_LOCAL : RCPT_UNKNOWN;
}

int resolve_sender(struct directory *db, const char *user, const char *address)
{
	char u[USERDB_MAX_ADDR], a[USERDB_MAX_ADDR], base[USERDB_MAX_ADDR], detail[DETAIL_MAX];
	if (!userdb_norm_address(user, u) || !userdb_norm_address(address, a))
		return 0;
	userdb_split_detail(a, base, detail, sizeof detail);
	if (!strcmp(base, u))
		return 1;
	/* An alias leading to the user; a catch-all does not make every address of
	 * its domain the user's own. */
	struct expansion *x = xcalloc(1, sizeof *x);
	struct walk w = { .db = db, .max_depth = 10, .catchall = false, .out = x };
	int st = expand(&w, a, ""), r = 0;
	if (st == EXPAND_TEMPFAIL)
		r = -1;
	for (size_t i = 0; st == EXPAND_OK && i < x->n && !r; i++)
		r = !strcmp(x->box[i].mailbox, u);
	free(x);
	return r;
}

struct keys {
	char **k;
	size_t n, cap;
};

static void collect_key(const char *key, const char *targets, void *arg)
{
	struct keys *ks = arg;
	if (key[0] == '@')	/* a catch-all is never a sender address (resolve_sender) */
		return;
	if (ks->n == ks->cap) {
		ks->cap = ks->cap ? 2 * ks->cap : 64;
		ks->k = xrealloc(ks->k, ks->cap * sizeof *ks->k);
	}
	ks->k[ks->n++] = xstrdup(key);
}

int resolve_addresses(struct directory *db, const char *user, char (*out)[USERDB_MAX_ADDR],
		      size_t max)
{
	char u[USERDB_MAX_ADDR];
	struct userdb_user rec;
	if (!max || !userdb_norm_address(user, u))
		return 0;
	int r = dir_domain_exists(db, userdb_domain_of(u));
	if (r == 1)
		r = dir_user_get(db, u, &rec);
	if (r <= 0)
		return r;
	size_t n = 0;
	strlcpy_t(out[n++], u, USERDB_MAX_ADDR);
	/* keys first, checks after: no lookup while the listing runs */
	struct keys ks = { 0 };
	if (dir_alias_list(db, NULL, collect_key, &ks) < 0)
		r = -1;
	for (size_t i = 0; r >= 0 && i < ks.n && n < max; i++) {
		int s = strcmp(ks.k[i], u) ? resolve_sender(db, u, ks.k[i]) : 0;
		if (s < 0)
			r = -1;
		else if (s == 1)
			strlcpy_t(out[n++], ks.k[i], USERDB_MAX_ADDR);
	}
	for (size_t i = 0; i < ks.n; i++)
		free(ks.k[i]);
	free(ks.k);
	return r < 0 ? -1 : (int)n;
}
