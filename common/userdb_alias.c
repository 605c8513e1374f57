/* userdb_alias.c — writing aliases: one address (or @domain, the catch-all)
 * to many targets, stored as one comma-separated value. */
#include "common/userdb.h"
#include "common/map.h"
#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct targets {
	size_t n;
	char v[USERDB_MAX_TARGETS][USERDB_MAX_ADDR];
};

static bool has_target(const struct targets *t, const char *a)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->v[i], a))
			return true;
	return false;
}

/* Parse "a, b,c" into t (deduplicated, appended). 0, or -1 with why. */
static int parse_targets(const char *list, struct targets *t, char *why, size_t whylen)
{
	char *copy = xstrdup(list), *save = NULL;
	int r = 0;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char a[USERDB_MAX_ADDR];
		tok = str_trim(tok);
		if (!*tok)
			continue;
		if (!userdb_norm_alias_key(tok, a)) {
			snprintf(why, whylen, "\"%.300s\" is not a valid target address", tok);
			r = -1;
			break;
		}
		if (has_target(t, a))
			continue;
		if (t->n == USERDB_MAX_TARGETS) {
			snprintf(why, whylen, "too many targets (at most %d per alias)", USERDB_MAX_TARGETS);
			r = -1;
			break;
		}
		strlcpy_t(t->v[t->n++], a, USERDB_MAX_ADDR);
	}
	free(copy);
	return r;
}

static char *join_targets(const struct targets *t)
{
	size_t len = 1;
	for (size_t i = 0; i < t->n; i++)
		len += strlen(t->v[i]) + 1;
	char *s = xmalloc(len), *p = s;
	*p = '\0';
	for (size_t i = 0; i < t->n; i++)
		p += sprintf(p, "%s%s", i ? "," : "", t->v[i]);
	return s;
}

/* Normalise key and check that its domain is local. */
static int check_key(const char *db_dir, const char *key, char *k, char *why, size_t whylen)
{
	if (!userdb_norm_alias_key(key, k)) {
		snprintf(why, whylen, "\"%s\" is not a valid alias (local@domain or @domain)", key);
		return -1;
	}
	int d = userdb_domain_exists(db_dir, userdb_domain_of(k));
	if (d != 1) {
		snprintf(why, whylen, d < 0 ? "cannot read the domain database in %s" :
			 "%s is not a local domain (add it with `mailctl domain add`)",
			 d < 0 ? db_dir : userdb_domain_of(k));
		return -1;
	}
	return 0;
}

int userdb_alias_merge(const char *old, const char *add, const char *remove, char **out,
		       char *why, size_t whylen)
{
	struct targets *cur = xcalloc(1, sizeof *cur), *rm = xcalloc(1, sizeof *rm);
	struct targets *keep = xcalloc(1, sizeof *keep);
	int r = -1;
	*out = NULL;
	if ((old && parse_targets(old, cur, why, whylen) < 0) ||
	    (add && parse_targets(add, cur, why, whylen) < 0) ||
	    (remove && parse_targets(remove, rm, why, whylen) < 0))
		goto out;
	for (size_t i = 0; i < cur->n; i++)
		if (!remove || (rm->n && !has_target(rm, cur->v[i])))
			strlcpy_t(keep->v[keep->n++], cur->v[i], USERDB_MAX_ADDR);
	*out = join_targets(keep);
	r = 0;
out:
	free(cur);
	free(rm);
	free(keep);
	return r;
}

/* Read the alias under the write lock; store the new target list (delete if empty). */
static int rewrite(const char *db_dir, const char *k, const char *add, const char *remove,
		   char *why, size_t whylen)
{
	struct map *m;
	char *old = NULL, *val = NULL;
	int r = -1, found = 0;

	if (userdb_open_write(db_dir, "aliases", &m) < 0) {
		snprintf(why, whylen, "cannot open %s/aliases.db: %s", db_dir, strerror(errno));
		return -1;
	}
	found = map_get(m, k, &old, NULL);
	if (found < 0) {
		snprintf(why, whylen, "cannot read aliases.db");
		goto out;
	}
	if (remove && !found) {
		snprintf(why, whylen, "no such alias: %s", k);
		goto out;
	}
	if (userdb_alias_merge(found ? old : NULL, add, remove, &val, why, whylen) < 0)
		goto out;
	if (!*val)
		r = map_del(m, k) < 0 ? -1 : 0;
	else
		r = map_put(m, k, val, strlen(val));
	if (r < 0)
		snprintf(why, whylen, "cannot update aliases.db for %s", k);
out:
	if (userdb_close_write(db_dir, "aliases", m) < 0 && r == 0) {
		snprintf(why, whylen, "cannot write %s/aliases.db", db_dir);
		r = -1;
	}
	free(old);
	free(val);
	return r;
}

int userdb_alias_add(const char *db_dir, const char *key, const char *targets,
		     char *why, size_t whylen)
{
	char k[USERDB_MAX_ADDR];
	if (check_key(db_dir, key, k, why, whylen) < 0)
		return -1;
	struct targets *t = xcalloc(1, sizeof *t);
	int r = parse_targets(targets, t, why, whylen);
	if (r == 0 && t->n == 0) {
		snprintf(why, whylen, "no target given for %s", k);
		r = -1;
	}
	free(t);
	return r < 0 ? -1 : rewrite(db_dir, k, targets, NULL, why, whylen);
}

int userdb_alias_del(const char *db_dir, const char *key, const char *targets,
		     char *why, size_t whylen)
{
	char k[USERDB_MAX_ADDR];
	if (!userdb_norm_alias_key(key, k)) {
		snprintf(why, whylen, "\"%s\" is not a valid alias (local@domain or @domain)", key);
		return -1;
	}
	return rewrite(db_dir, k, NULL, targets ? targets : "", why, whylen);
}

int userdb_alias_put(const char *db_dir, const char *key, const char *targets,
		     char *why, size_t whylen)
{
	char k[USERDB_MAX_ADDR];
	char *val = NULL;
	struct map *m;
	if (check_key(db_dir, key, k, why, whylen) < 0 ||
	    userdb_alias_merge(NULL, targets, NULL, &val, why, whylen) < 0)
		return -1;
	int r = -1;
	if (!*val)
		snprintf(why, whylen, "no target given for %s", k);
	else if (userdb_open_write(db_dir, "aliases", &m) < 0)
		snprintf(why, whylen, "cannot open %s/aliases.db: %s", db_dir, strerror(errno));
	else {
		r = map_put(m, k, val, strlen(val));
		if (userdb_close_write(db_dir, "aliases", m) < 0)
			r = -1;
		if (r < 0)
			snprintf(why, whylen, "cannot write %s/aliases.db", db_dir);
	}
	free(val);
	return r;
}
