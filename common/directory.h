/* directory.h — the user directory of an instance: domains, users (password
 * hash, quota, mailbox host) and aliases, wherever tern.conf says they live:
 *
 *   directory = bdb    Berkeley DB maps in db_dir (userdb.h), one host
 *   directory = pgsql  tables in a PostgreSQL database (dir_pgsql.c), shared
 *                      by every host of a site
 *
 * Readers: authd (the only daemon that opens the directory, and the only one
 * that reads password hashes) and mailctl (administration). Every other
 * process asks authd. The same operations, with the same checks and
 * messages, work on either backend; a backend is a table of functions
 * (struct dir_ops, directory.c) so OpenLDAP could be a third.
 *
 * Results: lookups return 1 found, 0 not found, -1 the directory cannot
 * answer now (unreachable, broken); callers turn -1 into a temporary failure,
 * never into "no such user". Changes return 0, or -1 with a one-line reason.
 * Addresses given to lookups are normalised (userdb_norm_*); changes
 * normalise what they are given. A directory handle may be used by several
 * threads at once (pgsql: a pool of connections). */
#ifndef TERN_DIRECTORY_H
#define TERN_DIRECTORY_H

#include "common/userdb.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct instance;
struct cfg;

enum dir_backend { DIR_BDB, DIR_PGSQL };

struct dir_settings {
	enum dir_backend backend;
	const char *db_dir;		/* bdb: the maps ("/" for authd in its chroot) */
	const char *conninfo;		/* pgsql: libpq connection string */
	char *password;			/* pgsql: from directory_password_file, or NULL */
	unsigned pool;			/* pgsql: most connections at once */
	unsigned timeout_ms;		/* pgsql: connect and query time limit */
	const char *app;		/* pgsql: application_name ("tern-authd") */
};

/* The settings of tern.conf (directory, directory_pgsql,
 * directory_password_file, directory_timeout), with pool 1. Reads the
 * password file (so call it before dropping privileges). 0, or -1 with why. */
int dir_settings_load(const struct instance *in, struct dir_settings *s, char *why, size_t whylen);
void dir_settings_free(struct dir_settings *s);
/* Check a libpq connection string; false with why (mailctl check). */
bool dir_pgsql_conninfo_ok(const char *conninfo, char *why, size_t whylen);

struct directory;
/* Open the directory (pgsql: connects lazily; an unreachable server is not an
 * error here). The settings' strings are copied. NULL with why. */
struct directory *dir_open(const struct dir_settings *s, char *why, size_t whylen);
void dir_close(struct directory *d);
enum dir_backend dir_backend(const struct directory *d);
/* Where it is, for logs and messages: "db_dir /x/db" or "PostgreSQL host=..."
 * (without any password). */
const char *dir_describe(const struct directory *d);
/* Why the last failed operation of this thread failed (empty when none). */
const char *dir_last_error(void);

/* ---- lookups ---- */
int dir_domain_exists(struct directory *d, const char *domain);
int dir_user_get(struct directory *d, const char *address, struct userdb_user *u);
/* *targets malloc'd "a,b,c". */
int dir_alias_get(struct directory *d, const char *key, char **targets);
/* 1 right, 0 wrong or no such user (same work), -1 cannot tell now. */
int dir_check_password(struct directory *d, const char *address, const char *password);

/* ---- listing (domain NULL: all); 0 or -1 ---- */
int dir_domain_list(struct directory *d, void (*fn)(const char *domain, void *arg), void *arg);
int dir_user_list(struct directory *d, const char *domain,
		  void (*fn)(const char *address, const struct userdb_user *u, void *arg), void *arg);
int dir_alias_list(struct directory *d, const char *domain,
		   void (*fn)(const char *key, const char *targets, void *arg), void *arg);
/* Every user with its password hash (export). */
int dir_user_list_hashes(struct directory *d,
			 void (*fn)(const char *address, const struct userdb_user *u,
				    const char *hash, void *arg), void *arg);

/* ---- changes ---- */
int dir_domain_add(struct directory *d, const char *domain, char *why, size_t whylen);
int dir_domain_del(struct directory *d, const char *domain, char *why, size_t whylen);
int dir_user_add(struct directory *d, const char *address, const char *password,
		 const struct userdb_user *u, char *why, size_t whylen);
int dir_user_del(struct directory *d, const char *address, char *why, size_t whylen);
int dir_user_passwd(struct directory *d, const char *address, const char *password,
		    char *why, size_t whylen);
int dir_user_set_quota(struct directory *d, const char *address, uint64_t quota,
		       char *why, size_t whylen);
int dir_user_set_host(struct directory *d, const char *address, const char *host,
		      char *why, size_t whylen);
/* Store a user exactly as given, replacing one of that address (import). */
int dir_user_put_hash(struct directory *d, const char *address, const struct userdb_user *u,
		      const char *hash, char *why, size_t whylen);
int dir_alias_add(struct directory *d, const char *key, const char *targets,
		  char *why, size_t whylen);
/* targets NULL or "": the whole alias. */
int dir_alias_del(struct directory *d, const char *key, const char *targets,
		  char *why, size_t whylen);
/* Replace an alias's targets exactly (import). */
int dir_alias_put(struct directory *d, const char *key, const char *targets,
		  char *why, size_t whylen);
/* Create what the backend needs (pgsql: the tables, if missing). 0 or -1. */
int dir_prepare(struct directory *d, char *why, size_t whylen);

/* ---- backends (directory.c dispatches) ---- */
struct dir_ops {
	int (*domain_exists)(struct directory *, const char *);
	int (*user_get)(struct directory *, const char *, struct userdb_user *);
	int (*alias_get)(struct directory *, const char *, char **);
	int (*check_password)(struct directory *, const char *, const char *);
	int (*domain_list)(struct directory *, void (*)(const char *, void *), void *);
	int (*user_list)(struct directory *, const char *,
			 void (*)(const char *, const struct userdb_user *, void *), void *);
	int (*alias_list)(struct directory *, const char *,
			  void (*)(const char *, const char *, void *), void *);
	int (*user_list_hashes)(struct directory *,
				void (*)(const char *, const struct userdb_user *, const char *, void *),
				void *);
	int (*domain_add)(struct directory *, const char *, char *, size_t);
	int (*domain_del)(struct directory *, const char *, char *, size_t);
	int (*user_add)(struct directory *, const char *, const char *, const struct userdb_user *,
			char *, size_t);
	int (*user_del)(struct directory *, const char *, char *, size_t);
	int (*user_passwd)(struct directory *, const char *, const char *, char *, size_t);
	int (*user_set_quota)(struct directory *, const char *, uint64_t, char *, size_t);
	int (*user_set_host)(struct directory *, const char *, const char *, char *, size_t);
	int (*user_put_hash)(struct directory *, const char *, const struct userdb_user *,
			     const char *, char *, size_t);
	int (*alias_add)(struct directory *, const char *, const char *, char *, size_t);
	int (*alias_del)(struct directory *, const char *, const char *, char *, size_t);
	int (*alias_put)(struct directory *, const char *, const char *, char *, size_t);
	int (*prepare)(struct directory *, char *, size_t);
	void (*close)(struct directory *);
};

struct directory {
	const struct dir_ops *ops;
	enum dir_backend backend;
	char *db_dir;
	char describe[300];
	void *impl;		/* the backend's own state */
};

/* Record why the last operation of this thread failed (dir_last_error). */
void dir_set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

extern const struct dir_ops dir_bdb_ops;	/* dir_bdb.c */
extern const struct dir_ops dir_pgsql_ops;	/* dir_pgsql.c */
/* pgsql: connect the pool's state (dir_pgsql.c); 0 or -1 with why. */
int dir_pgsql_open(struct directory *d, const struct dir_settings *s, char *why, size_t whylen);

#endif
