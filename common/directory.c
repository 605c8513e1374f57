/* directory.c — the directory's settings, opening, and dispatch to the
 * backend (dir_bdb.c, dir_pgsql.c). See directory.h. */
#include "common/directory.h"
#include "common/instance.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


static _Thread_local char last_error[512];

void dir_set_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof last_error, fmt, ap);
	va_end(ap);
}

const char *dir_last_error(void)
{
	return last_error;
}

int dir_settings_load(const struct instance *in, struct dir_settings *s, char *why, size_t whylen)
{
	const char *backend = cfg_str(&in->conf, "directory");
	memset(s, 0, sizeof *s);
	s->db_dir = in->db_dir;
	s->conninfo = cfg_str(&in->conf, "directory_pgsql");
	s->timeout_ms = (unsigned)cfg_int(&in->conf, "directory_timeout");
	s->pool = 1;
	s->app = "tern";
	if (!strcmp(backend, "bdb")) {
		s->backend = DIR_BDB;
		return 0;
	}
	if (strcmp(backend, "pgsql")) {
		snprintf(why, whylen, "directory = %s is not built into this tern (bdb or pgsql)", backend);
		return -1;
	}
	s->backend = DIR_PGSQL;
	if (!dir_pgsql_conninfo_ok(s->conninfo, why, whylen))
		return -1;
	const char *pwfile = cfg_str(&in->conf, "directory_password_file");
	if (*pwfile) {
		char *path = pwfile[0] == '/' ? xstrdup(pwfile) : xasprintf("%s/%s", in->dir, pwfile);
		s->password = secret_file_read(path, "directory_password_file", why, whylen);
		free(path);
		if (!s->password)
			return -1;
	}
	return 0;
}

void dir_settings_free(struct dir_settings *s)
{
	if (s->password) {
		explicit_bzero(s->password, strlen(s->password));
		free(s->password);
	}
	s->password = NULL;
}

struct directory *dir_open(const struct dir_settings *s, char *why, size_t whylen)
{
	struct directory *d = xcalloc(1, sizeof *d);
	d->backend = s->backend;
	if (s->backend == DIR_BDB) {
		d->ops = &dir_bdb_ops;
		d->db_dir = xstrdup(s->db_dir);
		snprintf(d->describe, sizeof d->describe, "db_dir %s", s->db_dir);
		return d;
	}
	d->ops = &dir_pgsql_ops;
	if (dir_pgsql_open(d, s, why, whylen) < 0) {
		free(d);
		return NULL;
	}
	return d;
}

void dir_close(struct directory *d)
{
	if (!d)
		return;
	if (d->ops->close)
		d->ops->close(d);
	free(d->db_dir);
	free(d);
}

enum dir_backend dir_backend(const struct directory *d)
{
	return d->backend;
}

const char *dir_describe(const struct directory *d)
{
	return d->describe;
}

/* ---- dispatch ---- */

int dir_domain_exists(struct directory *d, const char *domain)
{
	return d->ops->domain_exists(d, domain);
}

int dir_user_get(struct directory *d, const char *address, struct userdb_user *u)
{
	return d->ops->user_get(d, address, u);
}

int dir_alias_get(struct directory *d, const char *key, char **targets)
{
	return d->ops->alias_get(d, key, targets);
}

int dir_check_password(struct directory *d, const char *address, const char *password)
{
	return d->ops->check_password(d, address, password);
}

int dir_domain_list(struct directory *d, void (*fn)(const char *, void *), void *arg)
{
	return d->ops->domain_list(d, fn, arg);
}

int dir_user_list(struct directory *d, const char *domain,
		  void (*fn)(const char *, const struct userdb_user *, void *), void *arg)
{
	return d->ops->user_list(d, domain, fn, arg);
}

int dir_alias_list(struct directory *d, const char *domain,
		   void (*fn)(const char *, const char *, void *), void *arg)
{
	return d->ops->alias_list(d, domain, fn, arg);
}

int dir_user_list_hashes(struct directory *d,
			 void (*fn)(const char *, const struct userdb_user *, const char *, void *),
			 void *arg)
{
	return d->ops->user_list_hashes(d, fn, arg);
}

int dir_domain_add(struct directory *d, const char *domain, char *why, size_t whylen)
{
	return d->ops->domain_add(d, domain, why, whylen);
}

int dir_domain_del(struct directory *d, const char *domain, char *why, size_t whylen)
{
	return d->ops->domain_del(d, domain, why, whylen);
}

int dir_user_add(struct directory *d, const char *address, const char *password,
		 const struct userdb_user *u, char *why, size_t whylen)
{
	return d->ops->user_add(d, address, password, u, why, whylen);
}

int dir_user_del(struct directory *d, const char *address, char *why, size_t whylen)
{
	return d->ops->user_del(d, address, why, whylen);
}

int dir_user_passwd(struct directory *d, const char *address, const char *password,
		    char *why, size_t whylen)
{
	return d->ops->user_passwd(d, address, password, why, whylen);
}

int dir_user_set_quota(struct directory *d, const char *address, uint64_t quota,
		       char *why, size_t whylen)
{
	return d->ops->user_set_quota(d, address, quota, why, whylen);
}

int dir_user_set_host(struct directory *d, const char *address, const char *host,
		      char *why, size_t whylen)
{
	return d->ops->user_set_host(d, address, host, why, whylen);
}

int dir_user_put_hash(struct directory *d, const char *address, const struct userdb_user *u,
		      const char *hash, char *why, size_t whylen)
{
	return d->ops->user_put_hash(d, address, u, hash, why, whylen);
}

int dir_alias_add(struct directory *d, const char *key, const char *targets,
		  char *why, size_t whylen)
{
	return d->ops->alias_add(d, key, targets, why, whylen);
}

int dir_alias_del(struct directory *d, const char *key, const char *targets,
		  char *why, size_t whylen)
{
	return d->ops->alias_del(d, key, targets, why, whylen);
}

int dir_alias_put(struct directory *d, const char *key, const char *targets,
		  char *why, size_t whylen)
{
	return d->ops->alias_put(d, key, targets, why, whylen);
}

int dir_prepare(struct directory *d, char *why, size_t whylen)
{
	return d->ops->prepare(d, why, whylen);
}
