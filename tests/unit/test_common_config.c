/* Unit tests: config parser (good files, every error class, oversized lines). */
#include "common/config.h"
#include "common/netlist.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

static bool check_even(const char *text, char *why, size_t whylen)
{
	if (strlen(text) % 2 == 0)
		return true;
	snprintf(why, whylen, "has an odd length");
	return false;
}

static const struct cfg_key schema[] = {
	CFG_KEY_STR("name", "tern", NULL, "a name"),
	CFG_KEY_INT("count", "5", 0, 1000, "a count"),
	CFG_KEY_SIZE("size", "35m", 1024, 1ull << 40, "a size"),
	CFG_KEY_TIME("timeout", "5m", 1, 86400, "a time"),
	CFG_KEY_BOOL("flag", "no", "a flag"),
	CFG_KEY_LIST("items", "", NULL, "a list"),
	CFG_KEY_PATH("dir", "spool", "a path"),
	CFG_KEY_ENUM("mode", "may", "none,may,encrypt", "a mode"),
	CFG_KEY_END,
};

/* Ranges, an ordering rule, per-item checks and old names. */
static const struct cfg_key schema2[] = {
	CFG_KEY_INT("low", "1", 1, 10, "a small number"),
	{ .name = "high", .type = CFG_INT, .def = "5", .min = 1, .max = 10, .at_least = "low",
	  .doc = "not below low" },
	CFG_KEY_TIME("wait", "1m", 0, 3600, "a time"),
	CFG_KEY_SIZE("line", "8k", 64, 65536, "a size"),
	CFG_KEY_RENAMED("old_line", CFG_SIZE, "line", NULL),
	CFG_KEY_LIST("pairs", "", check_even, "even items"),
	CFG_KEY_STR("word", "", check_even, "an even word"),
	CFG_KEY_LIST("nets", "", NULL, "networks"),
	CFG_KEY_RENAMED("old_flag", CFG_BOOL, "nets", netlist_plaintext_from_bool),
	CFG_KEY_MSEC("pause", "2s", 0, 60000, "a short time"),
	CFG_KEY_END,
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

static void test_ranges_and_checks(void)
{
	struct cfg c;
	struct cfg_errors e = { 0 };
	char *p = write_file("range.conf", "low = 11\nhigh = 0\nwait = 2h\nline = 63\n"
					   "pairs = ab, abc\nword = xyz\n");
	CHECK(cfg_load(&c, schema2, p, "/", &e) == -1);
	CHECK(e.count == 6 && e.nwarn == 0);
	CHECK(e.count > 0 && strstr(e.msg[0], ":1: low must be from 1 to 10, not 11"));
	CHECK(e.count > 1 && strstr(e.msg[1], ":2: high must be from 1 to 10, not 0"));
	CHECK(e.count > 2 && strstr(e.msg[2], ":3: wait must be from 0 to 1h, not 2h"));
	CHECK(e.count > 3 && strstr(e.msg[3], ":4: line must be from 64 to 64k, not 63"));
	CHECK(e.count > 4 && strstr(e.msg[4], ":5: pairs: \"abc\" has an odd length"));
	CHECK(e.count > 5 && strstr(e.msg[5], ":6: word: \"xyz\" has an odd length"));
	CHECK(cfg_int(&c, "low") == 1);		/* the default stays; nothing clamped */
	cfg_free(&c);
	free(p);

	struct cfg_errors e2 = { 0 };
	p = write_file("order.conf", "low = 7\nhigh = 3\n");
	CHECK(cfg_load(&c, schema2, p, "/", &e2) == -1);
	CHECK(e2.count == 1 && strstr(e2.msg[0], ":2: high (3) must not be below low (7)"));
	cfg_free(&c);
	free(p);
	struct cfg_errors e3 = { 0 };
	p = write_file("order2.conf", "low = 7\n");	/* high defaults to 5 */
	CHECK(cfg_load(&c, schema2, p, "/", &e3) == -1);
	CHECK(e3.count == 1 && strstr(e3.msg[0], ":1: high (5) must not be below low (7)"));
	cfg_free(&c);
	free(p);
}

static void test_milliseconds(void)
{
	struct cfg c;
	struct cfg_errors e = { 0 };
	char *p = write_file("ms.conf", "pause = 250ms\n");
	CHECK(cfg_load(&c, schema2, p, "/", &e) == 0);
	CHECK(cfg_int(&c, "pause") == 250);
	cfg_free(&c);
	free(p);
	CHECK(cfg_load(&c, schema2, "/nonexistent", "/", &e) == -1);
	CHECK(cfg_int(&c, "pause") == 2000);	/* the default "2s" */
	cfg_free(&c);
	struct cfg_errors e2 = { 0 };
	p = write_file("ms2.conf", "pause = 2m\npause = 5x\n");
	CHECK(cfg_load(&c, schema2, p, "/", &e2) == -1);
	CHECK(e2.count == 2);
	CHECK(e2.count > 0 && strstr(e2.msg[0], ":1: pause must be from 0 to 1m, not 2m"));
	CHECK(e2.count > 1 && strstr(e2.msg[1], ":2: pause must be a time like 250ms"));
	cfg_free(&c);
	free(p);
}

static void test_old_names(void)
{
	struct cfg c;
	struct cfg_errors e = { 0 };
	char *p = write_file("old.conf", "old_line = 4k\nold_flag = yes\n");
	CHECK(cfg_load(&c, schema2, p, "/", &e) == 0);
	CHECK(e.count == 0 && e.nwarn == 2);
	CHECK(e.nwarn > 0 && strstr(e.warn[0], ":1: warning: old_line is an old name: "
					 "write \"line = 4k\" instead"));
	CHECK(e.nwarn > 1 && strstr(e.warn[1], ":2: warning: old_flag is an old name: "
					 "write \"nets = 127.0.0.0/8, ::1\" instead"));
	CHECK(cfg_int(&c, "line") == 4096);
	CHECK_STR(cfg_str(&c, "nets"), NETLIST_LOOPBACK);
	cfg_free(&c);
	free(p);

	/* The old and the new name together, or an old value out of the new range. */
	struct cfg_errors e2 = { 0 };
	p = write_file("both.conf", "line = 1k\nold_line = 2k\nold_flag = maybe\n");
	CHECK(cfg_load(&c, schema2, p, "/", &e2) == -1);
	CHECK(e2.count == 2);
	CHECK(e2.count > 0 && strstr(e2.msg[0], ":2: \"old_line\" already set on line 1"));
	CHECK(e2.count > 1 && strstr(e2.msg[1], ":3: old_flag must be yes or no"));
	cfg_free(&c);
	free(p);
	struct cfg_errors e3 = { 0 };
	p = write_file("oldrange.conf", "old_line = 1m\n");
	CHECK(cfg_load(&c, schema2, p, "/", &e3) == -1);
	CHECK(e3.count == 1 && strstr(e3.msg[0], ":1: line must be from 64 to 64k, not 1m "
					       "(read from the old name old_line)"));
	cfg_free(&c);
	free(p);

	/* Old names are never written as defaults; ranges are documented. */
	char *d = xasprintf("%s/defaults2.conf", check_tmpdir());
	int fd = open(d, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CHECK(cfg_write_defaults(fd, "test", schema2, NULL) == 0);
	close(fd);
	FILE *f = fopen(d, "r");
	char buf[4096];
	size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
	buf[n] = '\0';
	if (f)
		fclose(f);
	CHECK(!strstr(buf, "old_line") && !strstr(buf, "old_flag"));
	CHECK(strstr(buf, "# a size (64 to 64k)\n#line = 8k\n") != NULL);
	free(d);
}

/* A NUL byte in a line is reported as such, and the next line is still read
 * (it used to be taken for an over-long line, and the line after it was
 * dropped unread; seen while writing fuzz_config). */
static void test_nul_byte(void)
{
	static const char text[] = "count = 7\0junk\nflag = yes\n";
	char *p = xasprintf("%s/nul.conf", check_tmpdir());
	FILE *f = fopen(p, "w");
	fwrite(text, 1, sizeof text - 1, f);
	fclose(f);
	struct cfg c;
	struct cfg_errors e = { 0 };
	CHECK(cfg_load(&c, schema, p, "/", &e) == -1);
	CHECK(e.count == 1 && strstr(e.msg[0], ":1: NUL byte in line"));
	CHECK(cfg_bool(&c, "flag"));
	cfg_free(&c);
	free(p);
}

int main(void)
{
	test_nul_byte();
	test_good();
	test_defaults();
	test_errors();
	test_missing_and_long();
	test_write_defaults();
	test_ranges_and_checks();
	test_old_names();
	test_milliseconds();
	return check_summary("config");
}
