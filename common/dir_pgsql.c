/* dir_pgsql.c — the directory in PostgreSQL (directory = pgsql): the pool of
 * connections, queries under a time limit, and the lookups. Changes are in
 * dir_pgsql_write.c; the tables in dir_pgsql_int.h. */
#include "common/dir_pgsql_int.h"
#include "common/util.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PG_RETRY_MS	1000	/* after a failed connect, fail at once for this long */
#define PG_MAX_PARAMS	24	/* connection keywords we pass */

struct pg {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	PGconn **idle;
	unsigned nidle, total, max;
	uint64_t retry_at;		/* no connect attempt before (now_ms) */
	unsigned timeout_ms;
	/* Connection keywords and values (the parsed conninfo over our defaults). */
	const char *kw[PG_MAX_PARAMS + 1];
	char *val[PG_MAX_PARAMS + 1];
	bool own_kw[PG_MAX_PARAMS];	/* kw[i] malloc'd (from the conninfo) */
	size_t nkw;
};

struct pg *pg_of(struct directory *d)
{
	return d->impl;
}

void pg_why(char *why, size_t whylen, const char *what)
{
	snprintf(why, whylen, "%s: %s", what, dir_last_error());
}

/* libpq's messages end with a newline; keep one line. */
static void set_pq_error(const char *what, const char *msg)
{
	char line[400];
	strlcpy_t(line, msg ? msg : "", sizeof line);
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = (p[1] ? ' ' : '\0');
	dir_set_error("%s%s%s", what, *line ? ": " : "", line);
}

bool dir_pgsql_conninfo_ok(const char *conninfo, char *why, size_t whylen)
{
	char *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
	if (!opts) {
		snprintf(why, whylen, "directory_pgsql is not a libpq connection string: %s",
			 err ? err : "out of memory");
		why[strcspn(why, "\n")] = '\0';
		PQfreemem(err);
		return false;
	}
	bool ok = true;
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (o->val && !strcmp(o->keyword, "password")) {
			/* tern.conf is read by every daemon: no secret belongs in it. */
			snprintf(why, whylen, "directory_pgsql must not hold a password "
				 "(put it in the file named by directory_password_file)");
			ok = false;
		}
	}
	PQconninfoFree(opts);
	return ok;
}

/* Set keyword kw (replacing an earlier value of it); a new keyword that is
 * not a static string is copied. */
static void put_kw(struct pg *p, const char *kw, const char *val, bool copy_kw)
{
	for (size_t i = 0; i < p->nkw; i++) {
		if (!strcmp(p->kw[i], kw)) {
			free(p->val[i]);
			p->val[i] = xstrdup(val);
			return;
		}
	}
	if (p->nkw == PG_MAX_PARAMS)
		return;
	p->own_kw[p->nkw] = copy_kw;
	p->kw[p->nkw] = copy_kw ? xstrdup(kw) : kw;
	p->val[p->nkw++] = xstrdup(val);
}

/* Our defaults, then the site's conninfo over them, then the password. The
 * defaults name the user and database so libpq never asks the system's user
 * database for a name (authd runs chrooted, without /etc/passwd). */
static int build_params(struct pg *p, const struct dir_settings *s, char *why, size_t whylen)
{
	char num[32];
	unsigned secs = (s->timeout_ms + 999) / 1000;
	snprintf(num, sizeof num, "%u", secs < 2 ? 2 : secs);
	put_kw(p, "user", "tern", false);
	put_kw(p, "dbname", "tern", false);
	put_kw(p, "connect_timeout", num, false);
	snprintf(num, sizeof num, "%u", s->timeout_ms);
	put_kw(p, "tcp_user_timeout", num, false);
	put_kw(p, "keepalives", "1", false);
	put_kw(p, "keepalives_idle", "10", false);
	put_kw(p, "keepalives_interval", "5", false);
	put_kw(p, "keepalives_count", "3", false);
	put_kw(p, "application_name", s->app ? s->app : "tern", false);
	/* Kerberos would look for files a chrooted authd does not have. */
	put_kw(p, "gssencmode", "disable", false);
	char opt[64];
	snprintf(opt, sizeof opt, "-c statement_timeout=%u", s->timeout_ms);
	put_kw(p, "options", opt, false);
	if (!dir_pgsql_conninfo_ok(s->conninfo, why, whylen))
		return -1;
	PQconninfoOption *opts = PQconninfoParse(s->conninfo, NULL);
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (o->val)
			put_kw(p, o->keyword, o->val, true);
	PQconninfoFree(opts);
	if (s->password)
		put_kw(p, "password", s->password, false);
	return 0;
}

static const char *kw_value(const struct pg *p, const char *kw)
{
	for (size_t i = 0; i < p->nkw; i++)
		if (!strcmp(p->kw[i], kw))
			return p->val[i];
	return "";
}

int dir_pgsql_open(struct directory *d, const struct dir_settings *s, char *why, size_t whylen)
{
	struct pg *p = xcalloc(1, sizeof *p);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->max = s->pool ? s->pool : 1;
	p->timeout_ms = s->timeout_ms ? s->timeout_ms : 5000;
	p->idle = xcalloc(p->max, sizeof *p->idle);
	d->impl = p;
	if (build_params(p, s, why, whylen) < 0) {
		dir_pgsql_ops.close(d);
		return -1;
	}
	const char *host = kw_value(p, "hostaddr");
	snprintf(d->describe, sizeof d->describe, "PostgreSQL host=%.80s port=%.8s dbname=%.60s user=%.60s",
		 *host ? host : *kw_value(p, "host") ? kw_value(p, "host") : "(default)",
		 *kw_value(p, "port") ? kw_value(p, "port") : "5432", kw_value(p, "dbname"),
		 kw_value(p, "user"));
	return 0;
}

static void pg_close(struct directory *d)
{
	struct pg *p = d->impl;
	if (!p)
		return;
	for (unsigned i = 0; i < p->nidle; i++)
		PQfinish(p->idle[i]);
	for (size_t i = 0; i < p->nkw; i++) {
		if (!strcmp(p->kw[i], "password"))
			explicit_bzero(p->val[i], strlen(p->val[i]));
		free(p->val[i]);
		if (p->own_kw[i])
			free((char *)p->kw[i]);
	}
	free(p->idle);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
	d->impl = NULL;
}

/* ---- the pool ---- */

static PGconn *connect_one(struct pg *p)
{
	p->kw[p->nkw] = NULL;
	p->val[p->nkw] = NULL;
	PGconn *c = PQconnectdbParams(p->kw, (const char *const *)p->val, 0);
	if (!c) {
		dir_set_error("cannot connect to the directory: out of memory");
		return NULL;
	}
	if (PQstatus(c) != CONNECTION_OK) {
		set_pq_error("cannot connect to the directory", PQerrorMessage(c));
		PQfinish(c);
		return NULL;
	}
	return c;
}

static void deadline_in(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

PGconn *pg_acquire(struct pg *p)
{
	struct timespec until;
	deadline_in(&until, p->timeout_ms);
	pthread_mutex_lock(&p->mu);
	while (p->nidle == 0 && p->total >= p->max) {
		if (pthread_cond_timedwait(&p->cv, &p->mu, &until) == ETIMEDOUT) {
			pthread_mutex_unlock(&p->mu);
			dir_set_error("every directory connection stayed busy for %u ms", p->timeout_ms);
			return NULL;
		}
	}
	if (p->nidle) {
		PGconn *c = p->idle[--p->nidle];
		pthread_mutex_unlock(&p->mu);
		return c;
	}
	uint64_t now = now_ms();
	if (now < p->retry_at) {
		pthread_mutex_unlock(&p->mu);
		dir_set_error("the directory was unreachable moments ago; retrying shortly");
		return NULL;
	}
	p->total++;
	/* While this attempt runs, the others fail at once instead of queueing
	 * behind a server that may be gone. */
	if (p->retry_at)
		p->retry_at = now + p->timeout_ms + PG_RETRY_MS;
	pthread_mutex_unlock(&p->mu);
	PGconn *c = connect_one(p);
	pthread_mutex_lock(&p->mu);
	if (!c) {
		p->total--;
		p->retry_at = now_ms() + PG_RETRY_MS;
		pthread_cond_signal(&p->cv);
	} else {
		p->retry_at = 0;
	}
	pthread_mutex_unlock(&p->mu);
	return c;
}

void pg_release(struct pg *p, PGconn *c, bool ok)
{
	if (!c)
		return;
	bool keep = ok && PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE;
	if (!keep)
		PQfinish(c);
	pthread_mutex_lock(&p->mu);
	if (keep)
		p->idle[p->nidle++] = c;
	else
		p->total--;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mu);
}

/* ---- queries ---- */

/* Wait until c's socket is ready for `events`, at most until deadline. */
static bool wait_ready(PGconn *c, short events, uint64_t deadline)
{
	uint64_t now = now_ms();
	if (now >= deadline)
		return false;
	struct pollfd pfd = { .fd = PQsocket(c), .events = events };
	int r;
	do
		r = poll(&pfd, 1, (int)(deadline - now));
	while (r < 0 && errno == EINTR);
	return r > 0;
}

/* Collect the statement's result within the deadline; NULL on timeout. */
static PGresult *collect(PGconn *c, uint64_t deadline)
{
	int f;
	while ((f = PQflush(c)) == 1)
		if (!wait_ready(c, POLLIN | POLLOUT, deadline))
			return NULL;
	if (f < 0)
		return NULL;
	while (PQisBusy(c)) {
		if (!wait_ready(c, POLLIN, deadline) || !PQconsumeInput(c))
			return NULL;
	}
	PGresult *first = PQgetResult(c), *more;
	while ((more = PQgetResult(c)))	/* one statement: normally none */
		PQclear(more);
	return first;
}

PGresult *pg_exec_on(struct pg *p, PGconn *c, const char *sql, int n, const char *const *params)
{
	uint64_t deadline = now_ms() + p->timeout_ms;
	if (!PQsendQueryParams(c, sql, n, NULL, params, NULL, NULL, 0)) {
		set_pq_error("directory query failed", PQerrorMessage(c));
		return NULL;
	}
	PGresult *r = collect(c, deadline);
	if (!r) {
		/* Timed out or lost: the statement is still active on c, so
		 * pg_release closes it rather than reuse it. */
		if (PQstatus(c) == CONNECTION_BAD)
			set_pq_error("directory connection lost", PQerrorMessage(c));
		else
			dir_set_error("the directory did not answer within %u ms", p->timeout_ms);
		return NULL;
	}
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return r;
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	if (state && !strcmp(state, "42P01"))
		dir_set_error("the directory has no tern tables (create them with `mailctl directory init`)");
	else
		set_pq_error("directory query failed", PQresultErrorMessage(r));
	PQclear(r);
	return NULL;
}

PGresult *pg_exec(struct pg *p, const char *sql, int n, const char *const *params)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		PGconn *c = pg_acquire(p);
		if (!c)
			return NULL;
		PGresult *r = pg_exec_on(p, c, sql, n, params);
		bool broke = PQstatus(c) == CONNECTION_BAD;
		pg_release(p, c, r != NULL || !broke);
		/* A pooled connection the server closed meanwhile (a restart):
		 * once more on a new one. */
		if (r || !broke)
			return r;
	}
	return NULL;
}

unsigned long pg_rows(PGresult *r)
{
	const char *t = PQcmdTuples(r);
	return *t ? strtoul(t, NULL, 10) : 0;
}

/* ---- lookups ---- */

/* One row of one key: 1 (the result kept in *out), 0 none, -1 error. */
static int lookup(struct directory *d, const char *sql, const char *key, PGresult **out)
{
	const char *params[] = { key };
	PGresult *r = pg_exec(pg_of(d), sql, 1, params);
	if (!r)
		return -1;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return 0;
	}
	*out = r;
	return 1;
}

static int domain_exists(struct directory *d, const char *domain)
{
	PGresult *r = NULL;
	int found = lookup(d, "SELECT 1 FROM tern_domain WHERE domain = $1", domain, &r);
	PQclear(r);
	return found;
}

/* Columns quota, host of row i into u; false if malformed. */
static bool row_user(PGresult *r, int i, int col, struct userdb_user *u)
{
	return parse_u64(PQgetvalue(r, i, col), UINT64_MAX, &u->quota) &&
	       userdb_norm_host(PQgetvalue(r, i, col + 1), u->host);
}

static int user_get(struct directory *d, const char *address, struct userdb_user *u)
{
	PGresult *r = NULL;
	struct userdb_user tmp;
	int found = lookup(d, "SELECT quota, host FROM tern_user WHERE address = $1", address, &r);
	if (found == 1 && !row_user(r, 0, 0, u ? u : &tmp)) {
		dir_set_error("malformed directory entry for %s", address);
		found = -1;
	}
	PQclear(r);
	return found;
}

static int alias_get(struct directory *d, const char *key, char **targets)
{
	PGresult *r = NULL;
	int found = lookup(d, "SELECT targets FROM tern_alias WHERE address = $1", key, &r);
	if (found == 1)
		*targets = xstrdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	return found;
}

static int check_password(struct directory *d, const char *address, const char *password)
{
	char a[USERDB_MAX_ADDR];
	PGresult *r = NULL;
	int found = 0;
	if (userdb_norm_address(address, a))
		found = lookup(d, "SELECT password FROM tern_user WHERE address = $1", a, &r);
	if (found < 0)
		return -1;
	/* The connection is back in the pool before the slow part. */
	char *hash = found == 1 ? xstrdup(PQgetvalue(r, 0, 0)) : NULL;
	PQclear(r);
	bool ok = userdb_hash_matches(password, hash);
	if (hash) {
		explicit_bzero(hash, strlen(hash));
		free(hash);
	}
	return ok ? 1 : 0;
}

/* ---- listings ---- */

static PGresult *list_query(struct directory *d, const char *all, const char *of_domain,
			    const char *domain)
{
	const char *params[] = { domain };
	return pg_exec(pg_of(d), domain ? of_domain : all, domain ? 1 : 0, params);
}

static int domain_list(struct directory *d, void (*fn)(const char *, void *), void *arg)
{
	PGresult *r = list_query(d, "SELECT domain FROM tern_domain ORDER BY domain", NULL, NULL);
	if (!r)
		return -1;
	for (int i = 0; i < PQntuples(r); i++)
		fn(PQgetvalue(r, i, 0), arg);
	PQclear(r);
	return 0;
}

static int user_list(struct directory *d, const char *domain,
		     void (*fn)(const char *, const struct userdb_user *, void *), void *arg)
{
	PGresult *r = list_query(d, "SELECT address, quota, host FROM tern_user ORDER BY address",
				 "SELECT address, quota, host FROM tern_user WHERE domain = $1 ORDER BY address",
				 domain);
	if (!r)
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		struct userdb_user u;
		if (row_user(r, i, 1, &u))
			fn(PQgetvalue(r, i, 0), &u, arg);
	}
	PQclear(r);
	return 0;
}

static int alias_list(struct directory *d, const char *domain,
		      void (*fn)(const char *, const char *, void *), void *arg)
{
	PGresult *r = list_query(d, "SELECT address, targets FROM tern_alias ORDER BY address",
				 "SELECT address, targets FROM tern_alias WHERE domain = $1 ORDER BY address",
				 domain);
	if (!r)
		return -1;
	for (int i = 0; i < PQntuples(r); i++)
		fn(PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), arg);
	PQclear(r);
	return 0;
}

static int user_list_hashes(struct directory *d,
			    void (*fn)(const char *, const struct userdb_user *, const char *, void *),
			    void *arg)
{
	PGresult *r = list_query(d, "SELECT address, quota, host, password FROM tern_user ORDER BY address",
				 NULL, NULL);
	if (!r)
		return -1;
	for (int i = 0; i < PQntuples(r); i++) {
		struct userdb_user u;
		if (row_user(r, i, 1, &u))
			fn(PQgetvalue(r, i, 0), &u, PQgetvalue(r, i, 3), arg);
	}
	PQclear(r);
	return 0;
}

const struct dir_ops dir_pgsql_ops = {
	.domain_exists = domain_exists,
	.user_get = user_get,
	.alias_get = alias_get,
	.check_password = check_password,
	.domain_list = domain_list,
	.user_list = user_list,
	.alias_list = alias_list,
	.user_list_hashes = user_list_hashes,
	.domain_add = pgw_domain_add,
	.domain_del = pgw_domain_del,
	.user_add = pgw_user_add,
	.user_del = pgw_user_del,
	.user_passwd = pgw_user_passwd,
	.user_set_quota = pgw_user_set_quota,
	.user_set_host = pgw_user_set_host,
	.user_put_hash = pgw_user_put_hash,
	.alias_add = pgw_alias_add,
	.alias_del = pgw_alias_del,
	.alias_put = pgw_alias_put,
	.prepare = pgw_prepare,
	.close = pg_close,
};
