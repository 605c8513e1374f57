/* Unit tests: Berkeley DB maps. */
#include "common/map.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int count_cb(const char *k, const char *v, size_t n, void *arg)
{
	(void)k; (void)v; (void)n;
	(*(int *)arg)++;
	return 0;
}

/* Cached readers see every committed write at once, even writes in the same
 * clock tick (the lock file's writer count, not mtimes, tells them). */
static void test_cached_reader(const char *dir)
{
	char *p = xasprintf("%s/cached.db", dir);
	errno = 0;
	CHECK(map_read_begin(p) == NULL && errno == ENOENT);
	char key[32], *v = NULL;
	int seen = 0;
	for (int i = 0; i < 300; i++) {
		struct map *w = map_open(p, MAP_WRITE);
		snprintf(key, sizeof key, "k%d", i);
		map_put(w, key, "v", 1);
		if (i > 0) {	/* and one earlier key goes */
			snprintf(key, sizeof key, "k%d", i - 1);
			map_del(w, key);
		}
		map_close(w);
		struct map *r = map_read_begin(p);
		snprintf(key, sizeof key, "k%d", i);
		seen += r && map_get(r, key, &v, NULL) == 1;
		free(v);
		v = NULL;
		snprintf(key, sizeof key, "k%d", i - 1);
		seen -= r && i > 0 && map_get(r, key, &v, NULL) == 1;	/* deleted: gone */
		free(v);
		v = NULL;
		map_read_end(r);
	}
	CHECK(seen == 300);
	/* Same handle again without writes in between: still right. */
	struct map *r = map_read_begin(p);
	CHECK(r && map_get(r, "k299", &v, NULL) == 1);
	free(v);
	v = NULL;
	map_read_end(r);
	/* The file replaced under the open handle (a restore from backup): the
	 * handle would read the old, unlinked file; the count makes it reopen. */
	unlink(p);
	struct map *w = map_open(p, MAP_WRITE);
	map_put(w, "fresh", "v", 1);
	map_close(w);
	r = map_read_begin(p);
	CHECK(r && map_get(r, "fresh", &v, NULL) == 1);
	free(v);
	v = NULL;
	CHECK(r && map_get(r, "k299", &v, NULL) == 0);
	map_read_end(r);
	map_read_cache_clear();
	free(p);
}

static int collect(const char *key, const char *val, size_t vlen, void *arg)
{
	char *buf = arg;
	strcat(buf, key);
	strcat(buf, "=");
	strcat(buf, val);
	strcat(buf, ";");
	return 0;
}

static void test_prefix(const char *dir)
{
	char *p = xasprintf("%s/prefix.db", dir);
	struct map *m = map_open(p, MAP_WRITE);
	const char *keys[] = { "a", "ab:1", "ab:2", "ab:3", "abc", "b:1", "aa" };
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
		map_put(m, keys[i], "v", 1);
	char buf[256] = "";
	CHECK(map_each_prefix(m, "ab:", collect, buf) == 0);
	CHECK_STR(buf, "ab:1=v;ab:2=v;ab:3=v;");
	buf[0] = '\0';
	map_each_prefix(m, "zz", collect, buf);
	CHECK_STR(buf, "");
	map_each_prefix(m, "b", collect, buf);
	CHECK_STR(buf, "b:1=v;");
	buf[0] = '\0';
	map_each_prefix(m, "", collect, buf);
	CHECK_STR(buf, "a=v;aa=v;ab:1=v;ab:2=v;ab:3=v;abc=v;b:1=v;");
	map_close(m);
	free(p);
}

int main(void)
{
	test_prefix(check_tmpdir());
	char *p = xasprintf("%s/users.db", check_tmpdir());
	CHECK(map_open(p, MAP_READ) == NULL);	/* missing file */
	struct map *m = map_open(p, MAP_WRITE);
	CHECK(m != NULL);
	CHECK(map_put(m, "alice@example.test", "v1", 2) == 0);
	CHECK(map_put(m, "bob@example.test", "v2", 2) == 0);
	CHECK(map_put(m, "alice@example.test", "v3", 2) == 0);	/* overwrite */
	CHECK(map_close(m) == 0);

	m = map_open(p, MAP_READ);
	CHECK(m != NULL);
	char *v = NULL;
	size_t n;
	CHECK(map_get(m, "alice@example.test", &v, &n) == 1);
	CHECK(v && n == 2 && !strcmp(v, "v3"));
	free(v);
	CHECK(map_get(m, "carol@example.test", &v, &n) == 0);
	CHECK(map_put(m, "x", "y", 1) == -1);	/* read-only */
	int count = 0;
	map_each(m, count_cb, &count);
	CHECK(count == 2);
	map_close(m);

	m = map_open(p, MAP_WRITE);
	CHECK(map_del(m, "bob@example.test") == 1);
	CHECK(map_del(m, "bob@example.test") == 0);
	map_close(m);

	/* A corrupt file is an error, not a crash. */
	char *bad = xasprintf("%s/bad.db", check_tmpdir());
	FILE *f = fopen(bad, "w");
	fputs("this is not a berkeley db file at all, just garbage bytes........", f);
	fclose(f);
	CHECK(map_open(bad, MAP_READ) == NULL);
	free(bad);
	free(p);
	test_cached_reader(check_tmpdir());
	return check_summary("map");
}
