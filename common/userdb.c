/* userdb.c — names, domains and users (without password hashes) of the user
 * database. See userdb.h for the record formats. */
#include "common/userdb.h"
#include "common/map.h"
#include "common/privdrop.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- names ---- */

bool userdb_norm_domain(const char *in, char *out)
{
	size_t n = strlen(in), label = 0;
	if (n == 0 || n > USERDB_MAX_DOMAIN)
		return false;
	for (size_t i = 0; i <= n; i++) {
		char c = (char)tolower((unsigned char)in[i]);
		if (c == '.' || c == '\0') {
			/* Labels: 1-63 chars, no hyphen at either end. */
			if (label == 0 || label > 63 || in[i - 1] == '-' || in[i - label] == '-')
				return false;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
			label++;
		} else {
			return false;
		}
		out[i] = c;
	}
	return true;
}

/* RFC 5322 atext minus '/' (the local part becomes a directory name). */
static bool local_char(char c)
{
	return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+=?^_`{|}~-.", c));
}

static bool norm_local(const char *in, size_t n, char *out)
{
	if (n == 0 || n > USERDB_MAX_LOCAL || in[0] == '.' || in[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		if (!local_char(in[i]) || (in[i] == '.' && in[i + 1] == '.'))
			return false;
		out[i] = (char)tolower((unsigned char)in[i]);
	}
	out[n] = '\0';
	return true;
}

bool userdb_norm_address(const char *in, char *out)
{
	const char *at = strrchr(in, '@');
	if (!at || strlen(in) >= USERDB_MAX_ADDR)
		return false;
	size_t ln = (size_t)(at - in);
	if (!norm_local(in, ln, out))
		return false;
	out[ln] = '@';
	return userdb_norm_domain(at + 1, out + ln + 1);
}

bool userdb_norm_alias_key(const char *in, char *out)
{
	if (in[0] == '@') {
		out[0] = '@';
		return userdb_norm_domain(in + 1, out + 1);
	}
	return userdb_norm_address(in, out);
}

void userdb_split_detail(const char *addr, char *base, char *detail, size_t detail_len)
{
	const char *at = strrchr(addr, '@');
	const char *plus = strchr(addr, '+');
	/* No detail unless the part before '+' is a valid local part itself. */
	if (!at || !plus || plus > at || plus == addr || plus[-1] == '.') {
		strlcpy_t(base, addr, USERDB_MAX_ADDR);
		detail[0] = '\0';
		return;
	}
	size_t bl = (size_t)(plus - addr);
	memcpy(base, addr, bl);
	strlcpy_t(base + bl, at, USERDB_MAX_ADDR - bl);
	size_t dl = (size_t)(at - plus - 1);
	if (dl >= detail_len)
		dl = detail_len - 1;
	memcpy(detail, plus + 1, dl);
	detail[dl] = '\0';
}

const char *userdb_domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');
	return at ? at + 1 : "";
}

bool userdb_norm_host(const char *in, char *out)
{
	unsigned char ip[16];
	if (!*in) {
		out[0] = '\0';
		return true;
	}
	if (strlen(in) <= USERDB_MAX_HOST &&
	    (inet_pton(AF_INET, in, ip) == 1 || inet_pton(AF_INET6, in, ip) == 1)) {
		strlcpy_t(out, in, USERDB_MAX_HOST + 1);
		return true;
	}
	return userdb_norm_domain(in, out);
}

/* ---- files ---- */

char *userdb_path(const char *db_dir, const char *name)
{
	size_t n = strlen(db_dir);
	return xasprintf("%s%s%s.db", db_dir, n && db_dir[n - 1] == '/' ? "" : "/", name);
}

void userdb_fix_owner(const char *db_dir, const char *name)
{
	uid_t uid;
	gid_t gid;
	if (!running_as_root() || account_ids(ACCT_AUTHD, &uid, &gid) < 0)
		return;
	char *p = userdb_path(db_dir, name);
	/* Best effort: the files are still root's (and so unreadable by other
	 * daemons) if this fails; authd then reports the database unreadable. */
	if (chown(p, uid, gid) < 0 || chmod(p, 0600) < 0)
		(void)0;
	free(p);
	/* authd chroots into db_dir and must be able to search it. */
	struct stat st;
	if (stat(db_dir, &st) == 0 && st.st_uid == 0 && (st.st_mode & 0011) != 0011)
		(void)chmod(db_dir, (st.st_mode & 0777) | 0711);
}

void userdb_prepare(const char *db_dir)
{
	static const char *const names[] = { "domains", "users", "aliases" };
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		char *p = userdb_path(db_dir, names[i]);
		bool exists = access(p, F_OK) == 0;
		free(p);
		if (exists)
			userdb_fix_owner(db_dir, names[i]);
	}
}

/* Open a map; a missing file opened for reading is an empty map (*m NULL). */
static int open_map(const char *db_dir, const char *name, enum map_mode mode, struct map **m)
{
	if (mode == MAP_WRITE && mkdir_p(db_dir, 0711) < 0)
		return -1;
	char *p = userdb_path(db_dir, name);
	*m = map_open(p, mode);
	int e = errno;
	free(p);
	if (!*m)
		return mode == MAP_READ && e == ENOENT ? 0 : -1;
	return 0;
}

static int close_map(const char *db_dir, const char *name, struct map *m, enum map_mode mode)
{
	int r = map_close(m);
	if (mode == MAP_WRITE)
		userdb_fix_owner(db_dir, name);
	return r;
}

/* One lookup under a shared lock: 1 found, 0 not, -1 error. */
static int lookup(const char *db_dir, const char *name, const char *key, char **val)
{
	char *p = userdb_path(db_dir, name);
	struct map *m = map_read_begin(p);
	int e = errno;
	free(p);
	if (!m)
		return e == ENOENT ? 0 : -1;
	int r = map_get(m, key, val, NULL);
	map_read_end(m);
	return r;
}

/* ---- domains ---- */

int userdb_domain_exists(const char *db_dir, const char *domain)
{
	char *v = NULL;
	int r = lookup(db_dir, "domains", domain, &v);
	free(v);
	return r;
}

int userdb_domain_add(const char *db_dir, const char *domain, char *why, size_t whylen)
{
	char d[USERDB_MAX_DOMAIN + 1];
	struct map *m;
	if (!userdb_norm_domain(domain, d)) {
		snprintf(why, whylen, "\"%s\" is not a valid domain name", domain);
		return -1;
	}
	if (open_map(db_dir, "domains", MAP_WRITE, &m) < 0) {
		snprintf(why, whylen, "cannot open %s/domains.db: %s", db_dir, strerror(errno));
		return -1;
	}
	int r = map_put(m, d, "", 0);
	if (close_map(db_dir, "domains", m, MAP_WRITE) < 0 || r < 0) {
		snprintf(why, whylen, "cannot write %s/domains.db", db_dir);
		return -1;
	}
	/* Create the other maps too, so readers find every file (and its lock file:
	 * a chrooted reader has no /dev/null to fall back on). */
	for (const char *const *n = (const char *const[]){ "users", "aliases", NULL }; *n; n++) {
		if (open_map(db_dir, *n, MAP_WRITE, &m) == 0)
			close_map(db_dir, *n, m, MAP_WRITE);
	}
	return 0;
}

struct count_arg {
	const char *domain;
	int n;
};

static int count_in_domain(const char *key, const char *val, size_t vlen, void *arg)
{
	struct count_arg *c = arg;
	if (!strcmp(userdb_domain_of(key), c->domain))
		c->n++;
	return 0;
}

/* Number of keys of map name in domain, or -1. */
static int count_domain_keys(const char *db_dir, const char *name, const char *domain)
{
	struct map *m;
	struct count_arg c = { domain, 0 };
	if (open_map(db_dir, name, MAP_READ, &m) < 0)
		return -1;
	if (m) {
		int r = map_each(m, count_in_domain, &c);
		map_close(m);
		if (r < 0)
			return -1;
	}
	return c.n;
}

int userdb_domain_del(const char *db_dir, const char *domain, char *why, size_t whylen)
{
	char d[USERDB_MAX_DOMAIN + 1];
	struct map *m;
	if (!userdb_norm_domain(domain, d)) {
		snprintf(why, whylen, "\"%s\" is not a valid domain name", domain);
		return -1;
	}
	int users = count_domain_keys(db_dir, "users", d);
	int aliases = count_domain_keys(db_dir, "aliases", d);
	if (users < 0 || aliases < 0) {
		snprintf(why, whylen, "cannot read the user database in %s", db_dir);
		return -1;
	}
	if (users || aliases) {
		snprintf(why, whylen, "domain %s still has %d user(s) and %d alias(es); delete them first",
			 d, users, aliases);
		return -1;
	}
	if (open_map(db_dir, "domains", MAP_WRITE, &m) < 0) {
		snprintf(why, whylen, "cannot open %s/domains.db: %s", db_dir, strerror(errno));
		return -1;
	}
	int r = map_del(m, d);
	close_map(db_dir, "domains", m, MAP_WRITE);
	if (r <= 0) {
		snprintf(why, whylen, r == 0 ? "no such domain: %s" : "cannot update domains.db for %s", d);
		return -1;
	}
	return 0;
}

struct list_arg {
	const char *domain;
	void (*dfn)(const char *, void *);
	void (*ufn)(const char *, const struct userdb_user *, void *);
	void (*hfn)(const char *, const struct userdb_user *, const char *, void *);
	void (*afn)(const char *, const char *, void *);
	void *arg;
};

static int each_domain(const char *key, const char *val, size_t vlen, void *arg)
{
	struct list_arg *l = arg;
	l->dfn(key, l->arg);
	return 0;
}

static int list_map(const char *db_dir, const char *name,
		    int (*cb)(const char *, const char *, size_t, void *), struct list_arg *l)
{
	struct map *m;
	if (open_map(db_dir, name, MAP_READ, &m) < 0)
		return -1;
	if (!m)
		return 0;
	int r = map_each(m, cb, l);
	map_close(m);
	return r;
}

int userdb_domain_list(const char *db_dir, void (*fn)(const char *domain, void *arg), void *arg)
{
	struct list_arg l = { .dfn = fn, .arg = arg };
	return list_map(db_dir, "domains", each_domain, &l);
}

/* ---- users ---- */

bool userdb_parse_user(const char *rec, struct userdb_user *u, char **hash)
{
	const char *tab = strchr(rec, '\t');
	char num[24];
	if (!tab || (size_t)(tab - rec) >= sizeof num)
		return false;
	memcpy(num, rec, (size_t)(tab - rec));
	num[tab - rec] = '\0';
	if (!parse_u64(num, UINT64_MAX, &u->quota))
		return false;
	const char *h = tab + 1, *tab2 = strchr(h, '\t');
	size_t hl = tab2 ? (size_t)(tab2 - h) : strlen(h);
	if (!userdb_norm_host(tab2 ? tab2 + 1 : "", u->host))
		return false;
	if (hash)
		*hash = xstrndup(h, hl);
	return true;
}

char *userdb_user_record(const struct userdb_user *u, const char *hash)
{
	/* No third field without a host: the record older versions wrote. */
	return xasprintf("%llu\t%s%s%s", (unsigned long long)u->quota, hash, u->host[0] ? "\t" : "",
			 u->host);
}

int userdb_user_get(const char *db_dir, const char *address, struct userdb_user *u)
{
	char *v = NULL;
	struct userdb_user tmp;
	int r = lookup(db_dir, "users", address, &v);
	if (r == 1 && !userdb_parse_user(v, u ? u : &tmp, NULL))
		r = -1;
	free(v);
	return r;
}

int userdb_user_del(const char *db_dir, const char *address, char *why, size_t whylen)
{
	char a[USERDB_MAX_ADDR];
	struct map *m;
	if (!userdb_norm_address(address, a)) {
		snprintf(why, whylen, "\"%s\" is not a valid address (local@domain)", address);
		return -1;
	}
	if (open_map(db_dir, "users", MAP_WRITE, &m) < 0) {
		snprintf(why, whylen, "cannot open %s/users.db: %s", db_dir, strerror(errno));
		return -1;
	}
	int r = map_del(m, a);
	close_map(db_dir, "users", m, MAP_WRITE);
	if (r <= 0) {
		snprintf(why, whylen, r == 0 ? "no such user: %s" : "cannot update users.db for %s", a);
		return -1;
	}
	return 0;
}

/* Rewrite the record of address under the write lock: change() edits it. */
static int update_user(const char *db_dir, const char *address,
		       void (*change)(struct userdb_user *u, const void *arg), const void *arg,
		       char *why, size_t whylen)
{
	char a[USERDB_MAX_ADDR];
	struct map *m;
	char *v = NULL, *hash = NULL;
	struct userdb_user u;
	if (!userdb_norm_address(address, a)) {
		snprintf(why, whylen, "\"%s\" is not a valid address (local@domain)", address);
		return -1;
	}
	if (open_map(db_dir, "users", MAP_WRITE, &m) < 0) {
		snprintf(why, whylen, "cannot open %s/users.db: %s", db_dir, strerror(errno));
		return -1;
	}
	int r = map_get(m, a, &v, NULL);
	if (r == 1 && userdb_parse_user(v, &u, &hash)) {
		change(&u, arg);
		char *rec = userdb_user_record(&u, hash);
		r = map_put(m, a, rec, strlen(rec)) == 0 ? 1 : -1;
		free(rec);
	} else if (r == 1) {
		r = -1;
	}
	free(v);
	free(hash);
	close_map(db_dir, "users", m, MAP_WRITE);
	if (r <= 0) {
		snprintf(why, whylen, r == 0 ? "no such user: %s" : "cannot update users.db for %s", a);
		return -1;
	}
	return 0;
}

static void set_quota(struct userdb_user *u, const void *arg)
{
	u->quota = *(const uint64_t *)arg;
}

static void set_host(struct userdb_user *u, const void *arg)
{
	strlcpy_t(u->host, arg, sizeof u->host);
}

int userdb_user_set_quota(const char *db_dir, const char *address, uint64_t quota,
			  char *why, size_t whylen)
{
	return update_user(db_dir, address, set_quota, &quota, why, whylen);
}

int userdb_user_set_host(const char *db_dir, const char *address, const char *host,
			 char *why, size_t whylen)
{
	char h[USERDB_MAX_HOST + 1];
	if (!userdb_norm_host(host, h)) {
		snprintf(why, whylen, "\"%.300s\" is not a host name or IP address", host);
		return -1;
	}
	return update_user(db_dir, address, set_host, h, why, whylen);
}

static int each_user(const char *key, const char *val, size_t vlen, void *arg)
{
	struct list_arg *l = arg;
	struct userdb_user u;
	char *hash = NULL;
	if (l->domain && strcmp(userdb_domain_of(key), l->domain))
		return 0;
	if (userdb_parse_user(val, &u, l->hfn ? &hash : NULL)) {
		if (l->hfn)
			l->hfn(key, &u, hash, l->arg);
		else
			l->ufn(key, &u, l->arg);
	}
	free(hash);
	return 0;
}

int userdb_user_list(const char *db_dir, const char *domain,
		     void (*fn)(const char *address, const struct userdb_user *u, void *arg),
		     void *arg)
{
	struct list_arg l = { .domain = domain, .ufn = fn, .arg = arg };
	return list_map(db_dir, "users", each_user, &l);
}

int userdb_user_list_hashes(const char *db_dir,
			    void (*fn)(const char *address, const struct userdb_user *u,
				       const char *hash, void *arg), void *arg)
{
	struct list_arg l = { .hfn = fn, .arg = arg };
	return list_map(db_dir, "users", each_user, &l);
}

static int each_alias(const char *key, const char *val, size_t vlen, void *arg)
{
	struct list_arg *l = arg;
	if (!l->domain || !strcmp(userdb_domain_of(key), l->domain))
		l->afn(key, val, l->arg);
	return 0;
}

int userdb_alias_list(const char *db_dir, const char *domain,
		      void (*fn)(const char *key, const char *targets, void *arg), void *arg)
{
	struct list_arg l = { .domain = domain, .afn = fn, .arg = arg };
	return list_map(db_dir, "aliases", each_alias, &l);
}

int userdb_alias_get(const char *db_dir, const char *key, char **targets)
{
	return lookup(db_dir, "aliases", key, targets);
}

int userdb_open_write(const char *db_dir, const char *name, struct map **m)
{
	return open_map(db_dir, name, MAP_WRITE, m);
}

int userdb_close_write(const char *db_dir, const char *name, struct map *m)
{
	return close_map(db_dir, name, m, MAP_WRITE);
}
