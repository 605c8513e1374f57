/* dir_pgsql_int.h — shared by the PostgreSQL directory's files: dir_pgsql.c
 * (connections, queries, lookups) and dir_pgsql_write.c (changes).
 *
 * Tables (created by `mailctl directory init`, dir_pgsql_write.c):
 *   tern_domain (domain)
 *   tern_user   (address, domain, quota, password, host)
 *   tern_alias  (address, domain, targets)
 * with the same normalised keys and values as the Berkeley DB maps (userdb.h).
 *
 * Connections: a pool of at most `pool` libpq connections, made when needed
 * and reused; one that breaks is dropped and the query tried once more on a
 * new one. After a failed connect nobody tries again for a second (every
 * lookup meanwhile fails at once: the caller answers TEMPFAIL). Every query
 * runs under a client-side time limit (a host that vanished must not hang
 * authd's threads), besides the server's statement_timeout. */
#ifndef TERN_DIR_PGSQL_INT_H
#define TERN_DIR_PGSQL_INT_H

#include "common/directory.h"

#include <libpq-fe.h>
#include <stdbool.h>

struct pg;

/* A connection from the pool (NULL: none now; dir_last_error says why). */
PGconn *pg_acquire(struct pg *p);
/* Give it back; broken (or !ok) connections are closed. */
void pg_release(struct pg *p, PGconn *c, bool ok);
/* Run one statement with text parameters on c within the time limit.
 * Returns the result when its status is TUPLES_OK or COMMAND_OK, else NULL
 * (error recorded; c may be broken). */
PGresult *pg_exec_on(struct pg *p, PGconn *c, const char *sql, int n, const char *const *params);
/* pg_exec_on with a pooled connection, retried once on a fresh one when the
 * connection broke (for statements that may safely run twice). */
PGresult *pg_exec(struct pg *p, const char *sql, int n, const char *const *params);
/* Rows changed by a COMMAND_OK result. */
unsigned long pg_rows(PGresult *r);
/* The last error text, for a `why`. */
void pg_why(char *why, size_t whylen, const char *what);

struct pg *pg_of(struct directory *d);

/* dir_pgsql_write.c */
int pgw_prepare(struct directory *d, char *why, size_t whylen);
int pgw_domain_add(struct directory *d, const char *domain, char *why, size_t whylen);
int pgw_domain_del(struct directory *d, const char *domain, char *why, size_t whylen);
int pgw_user_add(struct directory *d, const char *address, const char *password,
		 const struct userdb_user *u, char *why, size_t whylen);
int pgw_user_del(struct directory *d, const char *address, char *why, size_t whylen);
int pgw_user_passwd(struct directory *d, const char *address, const char *password,
		    char *why, size_t whylen);
int pgw_user_set_quota(struct directory *d, const char *address, uint64_t quota,
		       char *why, size_t whylen);
int pgw_user_set_host(struct directory *d, const char *address, const char *host,
		      char *why, size_t whylen);
int pgw_user_put_hash(struct directory *d, const char *address, const struct userdb_user *u,
		      const char *hash, char *why, size_t whylen);
int pgw_alias_add(struct directory *d, const char *key, const char *targets,
		  char *why, size_t whylen);
int pgw_alias_del(struct directory *d, const char *key, const char *targets,
		  char *why, size_t whylen);
int pgw_alias_put(struct directory *d, const char *key, const char *targets,
		  char *why, size_t whylen);

#endif
