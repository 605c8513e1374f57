/* dir_bdb.c — the directory in Berkeley DB maps of db_dir (directory = bdb):
 * each operation is the userdb.h function of the same name. */
#include "common/directory.h"
#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* A lookup that failed: say why for the log. */
static int looked(int r, struct directory *d)
{
	if (r < 0)
		dir_set_error("cannot read the user database in %s", d->db_dir);
	return r;
}

static int domain_exists(struct directory *d, const char *domain)
{
	return looked(userdb_domain_exists(d->db_dir, domain), d);
}

static int user_get(struct directory *d, const char *address, struct userdb_user *u)
{
	return looked(userdb_user_get(d->db_dir, address, u), d);
}

static int alias_get(struct directory *d, const char *key, char **targets)
{
	return looked(userdb_alias_get(d->db_dir, key, targets), d);
}

static int check_password(struct directory *d, const char *address, const char *password)
{
	return looked(userdb_check_password(d->db_dir, address, password), d);
}

static int domain_list(struct directory *d, void (*fn)(const char *, void *), void *arg)
{
	return userdb_domain_list(d->db_dir, fn, arg);
}

static int user_list(struct directory *d, const char *domain,
		     void (*fn)(const char *, const struct userdb_user *, void *), void *arg)
{
	return userdb_user_list(d->db_dir, domain, fn, arg);
}

static int alias_list(struct directory *d, const char *domain,
		      void (*fn)(const char *, const char *, void *), void *arg)
{
	return userdb_alias_list(d->db_dir, domain, fn, arg);
}

static int user_list_hashes(struct directory *d,
			    void (*fn)(const char *, const struct userdb_user *, const char *, void *),
			    void *arg)
{
	return userdb_user_list_hashes(d->db_dir, fn, arg);
}

static int domain_add(struct directory *d, const char *domain, char *why, size_t whylen)
{
	return userdb_domain_add(d->db_dir, domain, why, whylen);
}

static int domain_del(struct directory *d, const char *domain, char *why, size_t whylen)
{
	return userdb_domain_del(d->db_dir, domain, why, whylen);
}

static int user_add(struct directory *d, const char *address, const char *password,
		    const struct userdb_user *u, char *why, size_t whylen)
{
	return userdb_user_add(d->db_dir, address, password, u, why, whylen);
}

static int user_del(struct directory *d, const char *address, char *why, size_t whylen)
{
	return userdb_user_del(d->db_dir, address, why, whylen);
}

static int user_passwd(struct directory *d, const char *address, const char *password,
		       char *why, size_t whylen)
{
	return userdb_user_passwd(d->db_dir, address, password, why, whylen);
}

static int user_set_quota(struct directory *d, const char *address, uint64_t quota,
			  char *why, size_t whylen)
{
	return userdb_user_set_quota(d->db_dir, address, quota, why, whylen);
}

static int user_set_host(struct directory *d, const char *address, const char *host,
			 char *why, size_t whylen)
{
	return userdb_user_set_host(d->db_dir, address, host, why, whylen);
}

static int user_put_hash(struct directory *d, const char *address, const struct userdb_user *u,
			 const char *hash, char *why, size_t whylen)
{
	return userdb_user_put_hash(d->db_dir, address, u, hash, why, whylen);
}

static int alias_add(struct directory *d, const char *key, const char *targets,
		     char *why, size_t whylen)
{
	return userdb_alias_add(d->db_dir, key, targets, why, whylen);
}

static int alias_del(struct directory *d, const char *key, const char *targets,
		     char *why, size_t whylen)
{
	return userdb_alias_del(d->db_dir, key, targets, why, whylen);
}

static int alias_put(struct directory *d, const char *key, const char *targets,
		     char *why, size_t whylen)
{
	return userdb_alias_put(d->db_dir, key, targets, why, whylen);
}

/* The maps are made by their first write (domain add makes all three). */
static int prepare(struct directory *d, char *why, size_t whylen)
{
	if (mkdir_p(d->db_dir, 0711) < 0) {
		snprintf(why, whylen, "cannot create %s: %s", d->db_dir, strerror(errno));
		return -1;
	}
	return 0;
}

const struct dir_ops dir_bdb_ops = {
	.domain_exists = domain_exists,
	.user_get = user_get,
	.alias_get = alias_get,
	.check_password = check_password,
	.domain_list = domain_list,
	.user_list = user_list,
	.alias_list = alias_list,
	.user_list_hashes = user_list_hashes,
	.domain_add = domain_add,
	.domain_del = domain_del,
	.user_add = user_add,
	.user_del = user_del,
	.user_passwd = user_passwd,
	.user_set_quota = user_set_quota,
	.user_set_host = user_set_host,
	.user_put_hash = user_put_hash,
	.alias_add = alias_add,
	.alias_del = alias_del,
	.alias_put = alias_put,
	.prepare = prepare,
};
