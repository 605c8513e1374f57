/* map.h — Berkeley DB (5.3) key/value maps: the user database, aliases and
 * other lookup tables. A map is a btree file. Concurrency between processes is
 * by flock on a sibling ".lock" file: readers shared, the writer exclusive; a
 * reader opens, reads and closes under the lock, so it always sees committed
 * data (writers sync before unlocking). Keys and values are byte strings. */
#ifndef TERN_MAP_H
#define TERN_MAP_H

#include <stdbool.h>
#include <stddef.h>

struct map;

enum map_mode { MAP_READ, MAP_WRITE };

/* Open (creating for MAP_WRITE) path; takes the lock. NULL with errno on error. */
struct map *map_open(const char *path, enum map_mode mode);
/* Sync (writers), unlock and close; 0 or -1. */
int map_close(struct map *m);

/* A read handle kept open across lookups, one per path in the process, held
 * (flock shared, and a mutex against other threads) until map_read_end. It is reopened only when a writer has opened the
 * map since (a count in the lock file says so), so a lookup costs a flock and
 * a pread instead of opening the database. NULL with errno on error (ENOENT:
 * the map does not exist). Use map_get on it; never map_close. */
struct map *map_read_begin(const char *path);
void map_read_end(struct map *m);
/* Close the cached handles (also done at exit). */
void map_read_cache_clear(void);

/* 1 found (*val malloc'd, NUL-terminated for convenience), 0 not found, -1 error. */
int map_get(struct map *m, const char *key, char **val, size_t *vlen);
int map_put(struct map *m, const char *key, const void *val, size_t vlen);
/* 1 deleted, 0 not found, -1 error. */
int map_del(struct map *m, const char *key);
/* Call fn for every key in order; stop early if it returns non-zero. */
int map_each(struct map *m, int (*fn)(const char *key, const char *val, size_t vlen, void *arg),
	     void *arg);
/* The same for the keys that start with prefix only (fn may not change the
 * map; collect keys and change it afterwards). */
int map_each_prefix(struct map *m, const char *prefix,
		    int (*fn)(const char *key, const char *val, size_t vlen, void *arg), void *arg);

#endif
