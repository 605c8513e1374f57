/* fuzz_config.c — libFuzzer target for the configuration loader
 * (common/config.c) on arbitrary file text, against a schema with a key of
 * every type, a range, an ordering rule, a per-item check and old names.
 *
 * Invariants: the load fails exactly when it reported an error, and never
 * reports more than it can hold; after a clean load every value passes the
 * check the loader applies (cfg_check_value), every number is inside its
 * range and the ordering rule holds; the defaults written out load cleanly.
 * Run: make fuzz (long) or make fuzz-smoke (part of make check). */
#include "common/config.h"
#include "common/netlist.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* A per-item check that can fail anywhere in the item. */
static bool check_no_x(const char *text, char *why, size_t whylen)
{
	if (!strchr(text, 'x'))
		return true;
	snprintf(why, whylen, "has an x");
	return false;
}

static const struct cfg_key schema[] = {
	CFG_KEY_STR("name", "tern", NULL, "a name"),
	CFG_KEY_STR("word", "", check_no_x, "a word without x"),
	CFG_KEY_INT("low", "1", 1, 10, "a small number"),
	{ .name = "high", .type = CFG_INT, .def = "5", .min = 1, .max = 10, .at_least = "low",
	  .doc = "not below low" },
	CFG_KEY_SIZE("size", "35m", 1024, 1ull << 40, "a size"),
	CFG_KEY_TIME("timeout", "5m", 1, 86400, "a time"),
	CFG_KEY_MSEC("pause", "2s", 0, 60000, "a short time"),
	CFG_KEY_BOOL("flag", "no", "a flag"),
	CFG_KEY_LIST("items", "", check_no_x, "items without x"),
	CFG_KEY_LIST("nets", "", netlist_check, "networks"),
	CFG_KEY_PATH("dir", "spool", "a path"),
	CFG_KEY_ENUM("mode", "may", "none,may,encrypt", "a mode"),
	CFG_KEY_RENAMED("old_size", CFG_SIZE, "size", NULL),
	CFG_KEY_RENAMED("old_flag", CFG_BOOL, "nets", netlist_plaintext_from_bool),
	CFG_KEY_END,
};

static void check_clean(const struct cfg *c)
{
	char why[256];
	for (size_t i = 0; i < c->nvalues; i++) {
		const struct cfg_key *k = c->values[i].key;
		if (k->new_name)
			continue;	/* old names are never stored under themselves */
		if (!cfg_check_value(k, c->values[i].text, why, sizeof why))
			abort();
		if (k->type == CFG_INT || k->type == CFG_SIZE || k->type == CFG_TIME ||
		    k->type == CFG_MSEC) {
			uint64_t v = cfg_int(c, k->name);
			if (v < k->min || v > k->max)
				abort();
		}
	}
	if (cfg_int(c, "high") < cfg_int(c, "low"))
		abort();
	char **items;
	size_t n = cfg_list(c, "items", &items);
	for (size_t i = 0; i < n; i++)
		if (strchr(items[i], 'x'))
			abort();
	cfg_list_free(items, n);
	free(cfg_path(c, "dir"));
}

static void check_defaults(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	int fd = memfd_create("defaults", 0);
	if (fd < 0 || cfg_write_defaults(fd, "fuzz", schema, NULL) < 0)
		abort();
	lseek(fd, 0, SEEK_SET);
	FILE *f = fdopen(fd, "r");
	struct cfg c;
	struct cfg_errors e = { 0 };
	if (cfg_load_stream(&c, schema, f, "defaults", "/", &e) != 0 || e.count)
		abort();
	cfg_free(&c);
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_defaults();
	FILE *f = fmemopen((void *)data, size ? size : 1, "r");
	if (!f)
		return 0;
	if (!size)
		fgetc(f);	/* fmemopen wants a size of at least one: an empty file */
	struct cfg c;
	struct cfg_errors e = { 0 };
	int r = cfg_load_stream(&c, schema, f, "fuzz.conf", "/inst", &e);
	fclose(f);
	if ((r != 0) != (e.count != 0) || e.count > CFG_MAX_ERRORS || e.nwarn > CFG_MAX_WARNINGS)
		abort();
	if (r == 0)
		check_clean(&c);
	cfg_free(&c);
	return 0;
}
