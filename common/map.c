/* map.c — Berkeley DB btree maps with flock-based reader/writer locking. */
#include "common/map.h"
#include "common/log.h"
#include "common/util.h"

#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/file.h>
#include <unistd.h>

/* Berkeley DB's page cache of a writer's handle. Its default, 256 KiB, holds
 * a few dozen pages: a writer touching keys all over the tree (the JMAP
 * journal's first sync puts a U, an E and a t record per message, the E and
 * t keys hashes in random order) wrote a leaf out, read it back and wrote it
 * again for almost every put. Readers keep the default: they look up a few
 * keys. */
#ifndef MAP_WRITE_CACHE
#define MAP_WRITE_CACHE (32U * 1024 * 1024)
#endif

struct map {
	DB *db;
	int lockfd;
	enum map_mode mode;
	bool uncached;		/* from map_read_begin, but closed by map_read_end */
};

static void db_error(const DB_ENV *env, const char *prefix, const char *msg)
{
	log_warn("berkeley db: %s", msg);
}

/* The lock file's first 8 bytes count the writers that ever opened the map:
 * a cached reader (map_read_begin) whose count is unchanged knows the file is
 * as it was when it opened its handle. Empty file: 0. */
static uint64_t read_gen(int fd)
{
	uint64_t g;
	return pread(fd, &g, sizeof g, 0) == (ssize_t)sizeof g ? g : 0;
}

static int bump_gen(int fd)
{
	uint64_t g = read_gen(fd) + 1;
	return pwrite(fd, &g, sizeof g, 0) == (ssize_t)sizeof g ? 0 : -1;
}

static int lock_file(const char *path, enum map_mode mode)
{
	char *lp = xasprintf("%s.lock", path);
	int fd = open(lp, (mode == MAP_WRITE ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC, 0644);
	free(lp);
	if (fd < 0 && mode == MAP_READ && errno == ENOENT) {
		/* No writer ever ran. Without the map either, say so (ENOENT) before
		 * reaching for /dev/null: a Landlock-confined mail process may open
		 * nothing outside its Maildir, and EACCES from /dev/null hid the
		 * ENOENT that makes JMAP create its journal on a first read. */
		if (access(path, F_OK) < 0)
			return -1;
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		return -1;
	/* A writer counts itself before it changes anything, so even one that
	 * dies half-way makes cached readers reopen. */
	if (flock(fd, mode == MAP_WRITE ? LOCK_EX : LOCK_SH) < 0 ||
	    (mode == MAP_WRITE && bump_gen(fd) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

struct map *map_open(const char *path, enum map_mode mode)
{
	struct map *m = xcalloc(1, sizeof *m);
	m->mode = mode;
	m->lockfd = lock_file(path, mode);
	if (m->lockfd < 0) {
		free(m);
		return NULL;
	}
	int r = db_create(&m->db, NULL, 0);
	if (r == 0) {
		m->db->set_errcall(m->db, db_error);
		if (mode == MAP_WRITE)
			r = m->db->set_cachesize(m->db, 0, MAP_WRITE_CACHE, 1);
	}
	if (r == 0) {
		u_int32_t flags = mode == MAP_WRITE ? DB_CREATE : DB_RDONLY;
		r = m->db->open(m->db, NULL, path, NULL, DB_BTREE, flags, 0640);
	}
	if (r != 0) {
		if (m->db)
			m->db->close(m->db, 0);
		close(m->lockfd);
		free(m);
		errno = r > 0 ? r : EIO;
		return NULL;
	}
	return m;
}

int map_close(struct map *m)
{
	int r = 0;
	if (!m)
		return 0;
	if (m->mode == MAP_WRITE && m->db->sync(m->db, 0) != 0)
		r = -1;
	if (m->mode == MAP_WRITE && fsync(m->lockfd) < 0)
		r = -1;
	if (m->db->close(m->db, 0) != 0)
		r = -1;
	close(m->lockfd);
	free(m);
	return r;
}

/* ---- cached readers: one open handle per map, used under a mutex ---- */

#define READ_CACHE_SLOTS 8

struct cached_map {
	char *path;
	int lockfd;
	uint64_t gen;
	DB *db;		/* NULL: not open */
	struct map m;	/* what map_read_begin hands out */
};

/* One cache for the process: a lookup holds cache_mu from map_read_begin to
 * map_read_end (a handle opened without DB_THREAD serves one thread at a time),
 * and the handles are closed at exit (Berkeley DB keeps region memory by
 * offset, which leak checkers cannot follow). */
static struct cached_map read_cache[READ_CACHE_SLOTS];
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_clear_at_exit(void)
{
	map_read_cache_clear();
}

static void cache_init(void)
{
	atexit(cache_clear_at_exit);
}

static void cache_drop(struct cached_map *c)
{
	if (c->db)
		c->db->close(c->db, 0);
	if (c->lockfd > 0)
		close(c->lockfd);
	free(c->path);
	memset(c, 0, sizeof *c);
}

static struct cached_map *cache_slot(const char *path)
{
	struct cached_map *free_slot = NULL;
	for (size_t i = 0; i < READ_CACHE_SLOTS; i++) {
		if (read_cache[i].path && !strcmp(read_cache[i].path, path))
			return &read_cache[i];
		if (!read_cache[i].path && !free_slot)
			free_slot = &read_cache[i];
	}
	if (!free_slot) {	/* more maps than slots: the first one goes */
		free_slot = &read_cache[0];
		cache_drop(free_slot);
	}
	free_slot->path = xstrdup(path);
	return free_slot;
}

static struct map *read_begin_locked(const char *path)
{
	struct cached_map *c = cache_slot(path);
	if (c->lockfd <= 0) {
		char *lp = xasprintf("%s.lock", path);
		c->lockfd = open(lp, O_RDONLY | O_CLOEXEC);
		free(lp);
		if (c->lockfd < 0) {
			/* No writer ever ran (the map, if any, was not made by us):
			 * nothing to tell changes by, so no caching. */
			cache_drop(c);
			struct map *m = map_open(path, MAP_READ);
			if (m)
				m->uncached = true;
			return m;
		}
	}
	if (flock(c->lockfd, LOCK_SH) < 0)
		return NULL;
	uint64_t gen = read_gen(c->lockfd);
	if (!c->db || gen != c->gen) {
		if (c->db)
			c->db->close(c->db, 0);
		c->db = NULL;
		int r = db_create(&c->db, NULL, 0);
		if (r == 0) {
			c->db->set_errcall(c->db, db_error);
			r = c->db->open(c->db, NULL, path, NULL, DB_BTREE, DB_RDONLY, 0640);
		}
		if (r != 0) {
			if (c->db)
				c->db->close(c->db, 0);
			c->db = NULL;
			flock(c->lockfd, LOCK_UN);
			errno = r > 0 ? r : EIO;
			return NULL;
		}
		c->gen = gen;
	}
	c->m.db = c->db;
	c->m.lockfd = c->lockfd;
	c->m.mode = MAP_READ;
	return &c->m;
}

struct map *map_read_begin(const char *path)
{
	pthread_once(&cache_once, cache_init);
	pthread_mutex_lock(&cache_mu);
	struct map *m = read_begin_locked(path);
	if (!m) {
		int e = errno;
		pthread_mutex_unlock(&cache_mu);
		errno = e;
	}
	return m;
}

void map_read_end(struct map *m)
{
	if (!m)
		return;
	if (m->uncached)
		map_close(m);
	else
		flock(m->lockfd, LOCK_UN);
	pthread_mutex_unlock(&cache_mu);
}

void map_read_cache_clear(void)
{
	pthread_mutex_lock(&cache_mu);
	for (size_t i = 0; i < READ_CACHE_SLOTS; i++)
		if (read_cache[i].path)
			cache_drop(&read_cache[i]);
	pthread_mutex_unlock(&cache_mu);
}

static void set_dbt(DBT *d, const void *p, size_t n)
{
	memset(d, 0, sizeof *d);
	d->data = (void *)p;
	d->size = (u_int32_t)n;
}

int map_get(struct map *m, const char *key, char **val, size_t *vlen)
{
	DBT k, v;
	set_dbt(&k, key, strlen(key));
	memset(&v, 0, sizeof v);
	v.flags = DB_DBT_MALLOC;
	int r = m->db->get(m->db, NULL, &k, &v, 0);
	if (r == DB_NOTFOUND)
		return 0;
	if (r != 0)
		return -1;
	*val = xmalloc(v.size + 1);
	if (v.size)
		memcpy(*val, v.data, v.size);
	(*val)[v.size] = '\0';
	if (vlen)
		*vlen = v.size;
	free(v.data);
	return 1;
}

int map_put(struct map *m, const char *key, const void *val, size_t vlen)
{
	DBT k, v;
	set_dbt(&k, key, strlen(key));
	set_dbt(&v, val, vlen);
	return m->db->put(m->db, NULL, &k, &v, 0) == 0 ? 0 : -1;
}

int map_del(struct map *m, const char *key)
{
	DBT k;
	set_dbt(&k, key, strlen(key));
	int r = m->db->del(m->db, NULL, &k, 0);
	if (r == DB_NOTFOUND)
		return 0;
	return r == 0 ? 1 : -1;
}

int map_each(struct map *m, int (*fn)(const char *key, const char *val, size_t vlen, void *arg),
	     void *arg)
{
	return map_each_prefix(m, "", fn, arg);
}

int map_each_prefix(struct map *m, const char *prefix,
		    int (*fn)(const char *key, const char *val, size_t vlen, void *arg), void *arg)
{
	DBC *c;
	DBT k, v;
	int r, stop = 0;
	size_t plen = strlen(prefix);
	if (m->db->cursor(m->db, NULL, &c, 0) != 0)
		return -1;
	memset(&k, 0, sizeof k);
	memset(&v, 0, sizeof v);
	/* a btree keeps keys in order: start at the prefix, stop past it */
	k.data = (void *)prefix;
	k.size = (u_int32_t)plen;
	u_int32_t op = plen ? DB_SET_RANGE : DB_NEXT;
	while (!stop && (r = c->get(c, &k, &v, op)) == 0) {
		op = DB_NEXT;
		if (k.size < plen || memcmp(k.data, prefix, plen))
			break;
		char *ks = xstrndup(k.data, k.size);
		char *vs = xmalloc(v.size + 1);
		if (v.size)
			memcpy(vs, v.data, v.size);
		vs[v.size] = '\0';
		stop = fn(ks, vs, v.size, arg);
		free(ks);
		free(vs);
	}
	c->close(c);
	return 0;
}
