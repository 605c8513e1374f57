/* Unit tests: config parser (good files, every error class, oversized lines). */
#include "common/config.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const struct cfg_key schema[] = {
	{ "name", CFG_STR, "tern", "a name", NULL },
	{ "count", CFG_INT, "5", "a count", NULL },
	{ "size", CFG_SIZE, "35m", "a size", NULL },
	{ "timeout", CFG_TIME, "5m", "a time", NULL },
	{ "flag", CFG_BOOL, "no", "a flag", NULL },
	{ "items", CFG_LIST, "", "a list", NULL },
	{ "dir", CFG_PATH, "spool", "a path", NULL },
	{ "mode", CFG_ENUM, "may", "a mode", "none,may,encrypt" },
	{ NULL, 0, NULL, NULL, NULL },
};

static char *write_file(const char *name, const char *text)
{
	char *p = xasprintf("%s/%s", check_tmpdir(), name);
	FILE *f = fopen(p, "w");
	fputs(text, f);
	fclose(f);
	return p;
}

static void test_good(void)
{
	struct cfg c;
	struct cfg_errors e = { 0 };
	char *p = write_file("good.conf", "# comment\n\nname = hello world \ncount=42\nsize = 2k\n"
					  "timeout = 2h\nflag = yes\nitems = a, b ,,c\ndir = /abs\nmode = encrypt\n");
	CHECK(cfg_load(&c, schema, p, "/base", &e) == 0);
	CHECK(e.count == 0);
	CHECK_STR(cfg_str(&c, "name"), "hello world");
	CHECK(cfg_int(&c, "count") == 42);
	CHECK(cfg_int(&c, "size") == 2048);
	CHECK(cfg_int(&c, "timeout") == 7200);
	CHECK(cfg_bool(&c, "flag"));
	char **items;
	size_t n = cfg_list(&c, "items", &items);
	CHECK(n == 3);
	if (n == 3) {
		CHECK_STR(items[0], "a");
		CHECK_STR(items[2], "c");
	}
	cfg_list_free(items, n);
	char *d = cfg_path(&c, "dir");
	CHECK_STR(d, "/abs");
	free(d);
	CHECK_STR(cfg_str(&c, "mode"), "encrypt");
	cfg_free(&c);
	free(p);
}

static void test_defaults(void)
{
	struct cfg c;
	struct cfg_errors e = { 0 };
	char *p = write_file("empty.conf", "");
	CHECK(cfg_load(&c, schema, p, "/base", &e) == 0);
	CHECK(cfg_int(&c, "size") == 35u * 1024 * 1024);
	char *d = cfg_path(&c, "dir");
	CHECK_STR(d, "/base/spool");
	free(d);
	CHECK(!cfg_bool(&c, "flag"));
	cfg_free(&c);
	free(p);
}

static void test_errors(void)
{
	struct cfg c;
	struct cfg_errors e = { 0 };
	char *p = write_file("bad.conf", "count = 12x\nbogus = 1\nno equals here\nflag = maybe\n"
					 "count = 3\ncount = 4\nmode = other\nsize = 99999999999999999999g\n");
	CHECK(cfg_load(&c, schema, p, "/base", &e) == -1);
	CHECK(e.count == 7);
	char *want = xasprintf("%s:1: count must be a whole number", p);
	CHECK(e.count > 0 && !strncmp(e.msg[0], want, strlen(want)));
	free(want);
	CHECK(e.count > 1 && strstr(e.msg[1], ":2: unknown key \"bogus\""));
	CHECK(e.count > 2 && strstr(e.msg[2], ":3: expected"));
	CHECK(e.count > 3 && strstr(e.msg[3], ":4: flag must be yes or no"));
	CHECK(e.count > 4 && strstr(e.msg[4], ":6: \"count\" already set on line 5"));
	CHECK(e.count > 5 && strstr(e.msg[5], ":7: mode must be one of none,may,encrypt"));
	CHECK(e.count > 6 && strstr(e.msg[6], ":8: size must be a size"));
	CHECK(cfg_int(&c, "count") == 3);
	cfg_free(&c);
	free(p);
}

static void test_missing_and_long(void)
{
	struct cfg c;
	struct cfg_errors e = { 0 };
	CHECK(cfg_load(&c, schema, "/nonexistent/x.conf", "/", &e) == -1);
	CHECK(e.count == 1 && strstr(e.msg[0], "/nonexistent/x.conf: cannot read"));
	cfg_free(&c);

	char *big = xmalloc(10000);
	memset(big, 'a', 9998);
	memcpy(big, "name = ", 7);
	big[9998] = '\n';
	big[9999] = '\0';
	char *text = xasprintf("%scount = 7\n", big);
	char *p = write_file("long.conf", text);
	struct cfg_errors e2 = { 0 };
	CHECK(cfg_load(&c, schema, p, "/", &e2) == -1);
	CHECK(e2.count == 1 && strstr(e2.msg[0], ":1: line longer than"));
	CHECK(cfg_int(&c, "count") == 7);	/* parsing resumed after the long line */
	cfg_free(&c);
	free(big);
	free(text);
	free(p);
}

static void test_write_defaults(void)
{
	char *p = xasprintf("%s/defaults.conf", check_tmpdir());
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	const char *ov[] = { "count", "9", NULL };
	CHECK(cfg_write_defaults(fd, "test", schema, ov) == 0);
	close(fd);
	struct cfg c;
	struct cfg_errors e = { 0 };
	CHECK(cfg_load(&c, schema, p, "/", &e) == 0);	/* what init writes must load */
	CHECK(cfg_int(&c, "count") == 9);
	CHECK_STR(cfg_str(&c, "mode"), "may");
	cfg_free(&c);
	free(p);
}

int main(void)
{
	test_good();
	test_defaults();
	test_errors();
	test_missing_and_long();
	test_write_defaults();
	return check_summary("config");
}
