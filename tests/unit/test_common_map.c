/* Unit tests: Berkeley DB maps. */
#include "common/map.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int count_cb(const char *k, const char *v, size_t n, void *arg)
{
	(void)k; (void)v; (void)n;
	(*(int *)arg)++;
	return 0;
}

int main(void)
{
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
	return check_summary("map");
}
