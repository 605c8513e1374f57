/* qindex.c — Berkeley DB 5.3 transactional environment for the queue index. */
#include "queued/qindex.h"
#include "common/log.h"
#include "common/util.h"

#include <db.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static DB_ENV *env;
static DB *db;
bool qindex_created;

static void db_errcall(const DB_ENV *e, const char *pfx, const char *msg)
{
	log_err("queue index: %s", msg);
}

int qindex_open(const char *dir)
{
	int r;
	if (mkdir_p(dir, 0700) < 0)
		return -1;
	char *path = xasprintf("%s/queue.db", dir);
	qindex_created = access(path, F_OK) < 0;
	free(path);
	if ((r = db_env_create(&env, 0)) != 0)
		goto fail;
	env->set_errcall(env, db_errcall);
	env->set_lk_detect(env, DB_LOCK_DEFAULT);
	/* Keep only the logs recovery needs; the spool files are the archive. */
	env->log_set_config(env, DB_LOG_AUTO_REMOVE, 1);
	env->set_lg_max(env, 4 * 1024 * 1024);
	env->set_cachesize(env, 0, 16 * 1024 * 1024, 1);
	r = env->open(env, dir, DB_CREATE | DB_INIT_TXN | DB_INIT_LOG | DB_INIT_LOCK |
		      DB_INIT_MPOOL | DB_RECOVER | DB_PRIVATE, 0600);
	if (r != 0)
		goto fail;
	if ((r = db_create(&db, env, 0)) != 0)
		goto fail;
	r = db->open(db, NULL, "queue.db", NULL, DB_BTREE, DB_CREATE | DB_AUTO_COMMIT, 0600);
	if (r != 0)
		goto fail;
	return 0;
fail:
	log_err("queue index %s: %s", dir, db_strerror(r));
	qindex_close();
	return -1;
}

void qindex_close(void)
{
	if (db)
		db->close(db, 0);
	if (env)
		env->close(env, 0);
	db = NULL;
	env = NULL;
}

static int set_errno(int r)
{
	errno = r == ENOSPC || r == EDQUOT ? ENOSPC : (r > 0 ? r : EIO);
	return -1;
}

static int txn_op(const char *id, const void *val, size_t vlen)
{
	DB_TXN *t;
	int r = env->txn_begin(env, NULL, &t, DB_TXN_NOSYNC);
	if (r != 0)
		return set_errno(r);
	DBT k = { .data = (void *)id, .size = (u_int32_t)strlen(id) };
	if (val) {
		DBT v = { .data = (void *)val, .size = (u_int32_t)vlen };
		r = db->put(db, t, &k, &v, 0);
	} else {
		r = db->del(db, t, &k, 0);
		if (r == DB_NOTFOUND)
			r = 0;
	}
	if (r != 0) {
		t->abort(t);
		return set_errno(r);
	}
	r = t->commit(t, DB_TXN_NOSYNC);
	return r == 0 ? 0 : set_errno(r);
}

int qindex_put(const struct qmsg *m)
{
	size_t n;
	unsigned char *v = qrec_encode(m, &n);
	int r = txn_op(m->id, v, n);
	free(v);
	return r;
}

int qindex_del(const char *id)
{
	return txn_op(id, NULL, 0);
}

int qindex_flush(void)
{
	int r = env->log_flush(env, NULL);
	return r == 0 ? 0 : set_errno(r);
}

int qindex_each(void (*fn)(struct qmsg *m, void *arg), void (*bad)(const char *id, void *arg),
		void *arg)
{
	DBC *c;
	int r = db->cursor(db, NULL, &c, 0);
	if (r != 0)
		return set_errno(r);
	DBT k = { 0 }, v = { 0 };
	char **bads = NULL;
	size_t nbad = 0;
	while ((r = c->get(c, &k, &v, DB_NEXT)) == 0) {
		struct qmsg m;
		if (qrec_decode(v.data, v.size, &m) == 0) {
			fn(&m, arg);
		} else {
			char id[64];
			size_t n = k.size < sizeof id - 1 ? k.size : sizeof id - 1;
			memcpy(id, k.data, n);
			id[n] = 0;
			log_err("%s: queue index record undecodable", id);
			bads = xrealloc(bads, (nbad + 1) * sizeof *bads);
			bads[nbad++] = xstrdup(id);
		}
	}
	c->close(c);
	/* Repairs write to the db: only once the cursor is closed. */
	for (size_t i = 0; i < nbad; i++) {
		bad(bads[i], arg);
		free(bads[i]);
	}
	free(bads);
	return r == DB_NOTFOUND ? 0 : set_errno(r);
}

void qindex_checkpoint(void)
{
	if (env && env->txn_checkpoint(env, 0, 0, 0) == 0)
		env->log_archive(env, NULL, DB_ARCH_REMOVE);
}
