/* check.c — unit test harness implementation. */
#include "tests/unit/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int check_passed, check_failed;
static char tmpdir[64];

void check_record(int ok, const char *expr, const char *file, int line)
{
	if (ok) {
		check_passed++;
		return;
	}
	check_failed++;
	fprintf(stderr, "FAIL %s:%d: %s\n", file, line, expr);
}

const char *check_tmpdir(void)
{
	if (!tmpdir[0]) {
		snprintf(tmpdir, sizeof tmpdir, "/tmp/tern-unit-XXXXXX");
		if (!mkdtemp(tmpdir)) {
			perror("mkdtemp");
			exit(1);
		}
	}
	return tmpdir;
}

int check_put_file(const char *dir, const char *sub, const char *name, const char *data)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	size_t n = strlen(data);
	int r = fwrite(data, 1, n, f) == n ? 0 : -1;
	return fclose(f) == 0 ? r : -1;
}

int check_summary(const char *name)
{
	if (tmpdir[0]) {
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmpdir);
	}
	printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
	return check_failed ? 1 : 0;
}
