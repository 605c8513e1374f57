/* dir_pgsql_write.c — changes to the PostgreSQL directory (mailctl): the
 * tables, and the same checks and messages as the Berkeley DB maps give. */
#include "common/dir_pgsql_int.h"
#include "common/util.h"

#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole schema, one statement each (a parameterised query holds one);
 * IF NOT EXISTS makes `directory init` safe to repeat. Keys and domains are
 * stored normalised (lower case), as in userdb.h. */
static const char *const schema_sql[] = {
	"CREATE TABLE IF NOT EXISTS tern_domain ("
	" domain text PRIMARY KEY)",
	"CREATE TABLE IF NOT EXISTS tern_user ("
	" address text PRIMARY KEY,"
	" domain text NOT NULL REFERENCES tern_domain (domain),"
	" quota bigint NOT NULL DEFAULT 0 CHECK (quota >= 0),"
	" password text NOT NULL,"
	" host text NOT NULL DEFAULT '')",
	"CREATE TABLE IF NOT EXISTS tern_alias ("
	" address text PRIMARY KEY,"
	" domain text NOT NULL REFERENCES tern_domain (domain),"
	" targets text NOT NULL)",
	"CREATE INDEX IF NOT EXISTS tern_user_domain ON tern_user (domain)",
	"CREATE INDEX IF NOT EXISTS tern_alias_domain ON tern_alias (domain)",
};

int pgw_prepare(struct directory *d, char *why, size_t whylen)
{
	for (size_t i = 0; i < ARRAY_LEN(schema_sql); i++) {
		PGresult *r = pg_exec(pg_of(d), schema_sql[i], 0, NULL);
		if (!r) {
			pg_why(why, whylen, "cannot create the directory's tables");
			return -1;
		}
		PQclear(r);
	}
	return 0;
}

/* Run a change once (a retry could apply it twice); 1 row changed, 0 none,
 * -1 error (why says what failed). */
static int change(struct directory *d, const char *sql, int n, const char *const *params,
		  const char *what, char *why, size_t whylen)
{
	struct pg *p = pg_of(d);
	PGconn *c = pg_acquire(p);
	PGresult *r = c ? pg_exec_on(p, c, sql, n, params) : NULL;
	pg_release(p, c, true);
	if (!r) {
		pg_why(why, whylen, what);
		return -1;
	}
	unsigned long rows = pg_rows(r);
	PQclear(r);
	return rows ? 1 : 0;
}

static int bad_address(const char *address, char *why, size_t whylen)
{
	snprintf(why, whylen, "\"%s\" is not a valid address (local@domain)", address);
	return -1;
}

static int bad_domain(const char *domain, char *why, size_t whylen)
{
	snprintf(why, whylen, "\"%s\" is not a valid domain name", domain);
	return -1;
}

/* The domain of a new entry must be local (the message of userdb.c). */
static int check_domain(struct directory *d, const char *domain, char *why, size_t whylen)
{
	int r = dir_domain_exists(d, domain);
	if (r == 1)
		return 0;
	if (r < 0)
		pg_why(why, whylen, "cannot read the directory");
	else
		snprintf(why, whylen, "%s is not a local domain (add it with `mailctl domain add %s`)",
			 domain, domain);
	return -1;
}

/* ---- domains ---- */

int pgw_domain_add(struct directory *d, const char *domain, char *why, size_t whylen)
{
	char dn[USERDB_MAX_DOMAIN + 1];
	if (!userdb_norm_domain(domain, dn))
		return bad_domain(domain, why, whylen);
	const char *p[] = { dn };
	return change(d, "INSERT INTO tern_domain (domain) VALUES ($1) ON CONFLICT DO NOTHING",
		      1, p, "cannot add the domain", why, whylen) < 0 ? -1 : 0;
}

/* Users or aliases of a domain, or -1. */
static long count_in(struct directory *d, const char *sql, const char *domain)
{
	const char *p[] = { domain };
	PGresult *r = pg_exec(pg_of(d), sql, 1, p);
	if (!r)
		return -1;
	long n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return n;
}

int pgw_domain_del(struct directory *d, const char *domain, char *why, size_t whylen)
{
	char dn[USERDB_MAX_DOMAIN + 1];
	if (!userdb_norm_domain(domain, dn))
		return bad_domain(domain, why, whylen);
	long users = count_in(d, "SELECT count(*) FROM tern_user WHERE domain = $1", dn);
	long aliases = count_in(d, "SELECT count(*) FROM tern_alias WHERE domain = $1", dn);
	if (users < 0 || aliases < 0) {
		pg_why(why, whylen, "cannot read the directory");
		return -1;
	}
	if (users || aliases) {
		snprintf(why, whylen, "domain %s still has %ld user(s) and %ld alias(es); delete them first",
			 dn, users, aliases);
		return -1;
	}
	const char *p[] = { dn };
	int r = change(d, "DELETE FROM tern_domain WHERE domain = $1", 1, p,
		       "cannot delete the domain", why, whylen);
	if (r == 0)
		snprintf(why, whylen, "no such domain: %s", dn);
	return r == 1 ? 0 : -1;
}

/* ---- users ---- */

static int hash_password(const char *password, char *hash, size_t hashlen, char *why, size_t whylen)
{
	size_t n = strlen(password);
	if (n == 0 || n > USERDB_MAX_PASSWORD) {
		snprintf(why, whylen, n ? "password too long (at most %d bytes)" : "empty password",
			 USERDB_MAX_PASSWORD);
		return -1;
	}
	if (userdb_hash_password(password, hash, hashlen) < 0) {
		snprintf(why, whylen, "cannot hash the password (crypt: %s)", strerror(errno));
		return -1;
	}
	return 0;
}

/* A new user's normalised address, domain checked. */
static int new_user(struct directory *d, const char *address, char *a, char *why, size_t whylen)
{
	if (!userdb_norm_address(address, a) || strchr(a, '+')) {
		snprintf(why, whylen, "\"%s\" is not a valid user address (local@domain, no '+')", address);
		return -1;
	}
	return check_domain(d, userdb_domain_of(a), why, whylen);
}

/* Store a user (replace: over an existing one; else only when absent). */
static int put_user(struct directory *d, const char *a, const struct userdb_user *u,
		    const char *hash, bool replace, char *why, size_t whylen)
{
	char quota[24];
	if (u->quota > INT64_MAX) {
		snprintf(why, whylen, "quota too large for the directory");
		return -1;
	}
	snprintf(quota, sizeof quota, "%llu", (unsigned long long)u->quota);
	const char *p[] = { a, userdb_domain_of(a), quota, hash, u->host };
	int r = change(d, replace ?
		       "INSERT INTO tern_user (address, domain, quota, password, host) VALUES ($1, $2, $3, $4, $5)"
		       " ON CONFLICT (address) DO UPDATE SET quota = $3, password = $4, host = $5" :
		       "INSERT INTO tern_user (address, domain, quota, password, host) VALUES ($1, $2, $3, $4, $5)"
		       " ON CONFLICT DO NOTHING",
		       5, p, "cannot add the user", why, whylen);
	if (r == 0)
		snprintf(why, whylen, "user %s already exists (change the password with `mailctl user passwd`)", a);
	return r == 1 ? 0 : -1;
}

int pgw_user_add(struct directory *d, const char *address, const char *password,
		 const struct userdb_user *u, char *why, size_t whylen)
{
	char a[USERDB_MAX_ADDR], hash[CRYPT_OUTPUT_SIZE];
	if (new_user(d, address, a, why, whylen) < 0 ||
	    hash_password(password, hash, sizeof hash, why, whylen) < 0)
		return -1;
	int r = put_user(d, a, u, hash, false, why, whylen);
	explicit_bzero(hash, sizeof hash);
	return r;
}

int pgw_user_put_hash(struct directory *d, const char *address, const struct userdb_user *u,
		      const char *hash, char *why, size_t whylen)
{
	char a[USERDB_MAX_ADDR];
	if (new_user(d, address, a, why, whylen) < 0)
		return -1;
	if (!userdb_hash_valid(hash)) {
		snprintf(why, whylen, "the password hash of %s is not a crypt(3) hash", a);
		return -1;
	}
	return put_user(d, a, u, hash, true, why, whylen);
}

/* An UPDATE or DELETE of one user: "no such user" when nothing matched. */
static int user_change(struct directory *d, const char *sql, const char *address,
		       const char *value, char *why, size_t whylen)
{
	char a[USERDB_MAX_ADDR];
	if (!userdb_norm_address(address, a))
		return bad_address(address, why, whylen);
	const char *p[] = { a, value };
	int r = change(d, sql, value ? 2 : 1, p, "cannot update the directory", why, whylen);
	if (r == 0)
		snprintf(why, whylen, "no such user: %s", a);
	return r == 1 ? 0 : -1;
}

int pgw_user_del(struct directory *d, const char *address, char *why, size_t whylen)
{
	return user_change(d, "DELETE FROM tern_user WHERE address = $1", address, NULL, why, whylen);
}

int pgw_user_passwd(struct directory *d, const char *address, const char *password,
		    char *why, size_t whylen)
{
	char hash[CRYPT_OUTPUT_SIZE];
	if (hash_password(password, hash, sizeof hash, why, whylen) < 0)
		return -1;
	int r = user_change(d, "UPDATE tern_user SET password = $2 WHERE address = $1", address,
			    hash, why, whylen);
	explicit_bzero(hash, sizeof hash);
	return r;
}

int pgw_user_set_quota(struct directory *d, const char *address, uint64_t quota,
		       char *why, size_t whylen)
{
	char q[24];
	if (quota > INT64_MAX) {
		snprintf(why, whylen, "quota too large for the directory");
		return -1;
	}
	snprintf(q, sizeof q, "%llu", (unsigned long long)quota);
	return user_change(d, "UPDATE tern_user SET quota = $2 WHERE address = $1", address, q,
			   why, whylen);
}

int pgw_user_set_host(struct directory *d, const char *address, const char *host,
		      char *why, size_t whylen)
{
	char h[USERDB_MAX_HOST + 1];
	if (!userdb_norm_host(host, h)) {
		snprintf(why, whylen, "\"%.300s\" is not a host name or IP address", host);
		return -1;
	}
	return user_change(d, "UPDATE tern_user SET host = $2 WHERE address = $1", address, h,
			   why, whylen);
}

/* ---- aliases ---- */

/* Write the merged target list of alias k in one transaction: the row is
 * locked while it is read and rewritten, as the BDB writer's lock does. */
static int alias_rewrite(struct directory *d, const char *k, const char *add, const char *remove,
			 bool must_exist, char *why, size_t whylen)
{
	struct pg *p = pg_of(d);
	PGconn *c = pg_acquire(p);
	char *merged = NULL;
	int rc = -1;
	if (!c) {
		pg_why(why, whylen, "cannot reach the directory");
		return -1;
	}
	const char *params[] = { k, userdb_domain_of(k), NULL };
	PGresult *r = pg_exec_on(p, c, "BEGIN", 0, NULL);
	bool ok = r != NULL;
	PQclear(r);
	r = ok ? pg_exec_on(p, c, "SELECT targets FROM tern_alias WHERE address = $1 FOR UPDATE", 1, params) : NULL;
	if (!r) {
		pg_why(why, whylen, "cannot read the directory");
		goto out;
	}
	bool found = PQntuples(r) > 0;
	if (must_exist && !found) {
		snprintf(why, whylen, "no such alias: %s", k);
		goto out;
	}
	if (userdb_alias_merge(found ? PQgetvalue(r, 0, 0) : NULL, add, remove, &merged, why, whylen) < 0)
		goto out;
	PQclear(r);
	params[2] = merged;
	r = pg_exec_on(p, c, *merged ?
		       "INSERT INTO tern_alias (address, domain, targets) VALUES ($1, $2, $3)"
		       " ON CONFLICT (address) DO UPDATE SET targets = $3" :
		       "DELETE FROM tern_alias WHERE address = $1 AND domain = $2", *merged ? 3 : 2, params);
	if (r) {
		PQclear(r);
		r = pg_exec_on(p, c, "COMMIT", 0, NULL);
	}
	if (!r)
		pg_why(why, whylen, "cannot update the directory");
	else
		rc = 0;
out:
	PQclear(r);
	if (rc < 0 && PQtransactionStatus(c) != PQTRANS_IDLE && PQstatus(c) == CONNECTION_OK)
		PQclear(pg_exec_on(p, c, "ROLLBACK", 0, NULL));
	pg_release(p, c, true);
	free(merged);
	return rc;
}

/* Normalise an alias key of a local domain. */
static int alias_key(struct directory *d, const char *key, char *k, bool need_domain,
		     char *why, size_t whylen)
{
	if (!userdb_norm_alias_key(key, k)) {
		snprintf(why, whylen, "\"%s\" is not a valid alias (local@domain or @domain)", key);
		return -1;
	}
	return need_domain ? check_domain(d, userdb_domain_of(k), why, whylen) : 0;
}

/* The targets to add must name at least one valid address. */
static int some_targets(const char *k, const char *targets, char *why, size_t whylen)
{
	char *t = NULL;
	int r = userdb_alias_merge(NULL, targets, NULL, &t, why, whylen);
	if (r == 0 && !*t) {
		snprintf(why, whylen, "no target given for %s", k);
		r = -1;
	}
	free(t);
	return r;
}

int pgw_alias_add(struct directory *d, const char *key, const char *targets,
		  char *why, size_t whylen)
{
	char k[USERDB_MAX_ADDR];
	if (alias_key(d, key, k, true, why, whylen) < 0 || some_targets(k, targets, why, whylen) < 0)
		return -1;
	return alias_rewrite(d, k, targets, NULL, false, why, whylen);
}

int pgw_alias_del(struct directory *d, const char *key, const char *targets,
		  char *why, size_t whylen)
{
	char k[USERDB_MAX_ADDR];
	if (alias_key(d, key, k, false, why, whylen) < 0)
		return -1;
	return alias_rewrite(d, k, NULL, targets ? targets : "", true, why, whylen);
}

int pgw_alias_put(struct directory *d, const char *key, const char *targets,
		  char *why, size_t whylen)
{
	char k[USERDB_MAX_ADDR];
	char *t = NULL;
	if (alias_key(d, key, k, true, why, whylen) < 0 || some_targets(k, targets, why, whylen) < 0 ||
	    userdb_alias_merge(NULL, targets, NULL, &t, why, whylen) < 0)
		return -1;
	const char *p[] = { k, userdb_domain_of(k), t };
	int r = change(d, "INSERT INTO tern_alias (address, domain, targets) VALUES ($1, $2, $3)"
		       " ON CONFLICT (address) DO UPDATE SET targets = $3", 3, p,
		       "cannot update the directory", why, whylen);
	free(t);
	return r < 0 ? -1 : 0;
}
