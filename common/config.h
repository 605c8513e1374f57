/* config.h — `key = value` configuration files checked against a schema.
 *
 * Each setting is declared once, in the schema of its file (name, type, default,
 * documentation). Unknown keys, bad values, duplicates and missing files are errors
 * naming file and line; all errors of a file are collected so `mailctl check` can
 * report every one of them. */
#ifndef TERN_CONFIG_H
#define TERN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum cfg_type {
	CFG_STR,	/* any text */
	CFG_INT,	/* non-negative integer */
	CFG_SIZE,	/* bytes, optional suffix k, m, g (powers of 1024) */
	CFG_TIME,	/* seconds, optional suffix s, m, h, d */
	CFG_MSEC,	/* milliseconds: "250ms", or seconds as CFG_TIME ("2s", "1m") */
	CFG_BOOL,	/* yes/no, true/false, on/off, 1/0 */
	CFG_LIST,	/* comma-separated items, whitespace trimmed, may be empty */
	CFG_PATH,	/* relative paths are relative to the instance directory */
	CFG_ENUM,	/* one of the words in `choices` (comma-separated) */
};

/* Checks one value (CFG_STR) or one list item (CFG_LIST) with the parser the
 * program itself uses for it; false with a reason (without the key name). */
typedef bool (*cfg_check_fn)(const char *text, char *why, size_t whylen);
/* Turns the value written under an old name into text for the new key. */
typedef const char *(*cfg_convert_fn)(const char *old_text);

struct cfg_key {
	const char *name;
	enum cfg_type type;
	const char *def;	/* default as it would be written in the file */
	const char *doc;	/* one line, written above the key by `mailctl init` */
	const char *choices;	/* CFG_ENUM only */
	uint64_t min, max;	/* CFG_INT, CFG_SIZE, CFG_TIME, CFG_MSEC: inclusive range */
	const char *at_least;	/* numeric: never below this other key's value */
	cfg_check_fn check;	/* CFG_STR: the value; CFG_LIST: each item; or NULL */
	/* An old name kept readable: its value (checked as `type`, converted by
	 * `convert` when set) goes to the key new_name, with a warning. Never written
	 * by --print-config. */
	const char *new_name;
	cfg_convert_fn convert;
};

/* Schema entries. Every number declares its range: a value outside it is an
 * error from `mailctl check` and from the daemon, never clamped. */
#define CFG_NO_MAX UINT64_MAX
#define CFG_KEY_NUM(t, n, d, lo, hi, text) \
	{ .name = (n), .type = (t), .def = (d), .doc = (text), .min = (lo), .max = (hi) }
#define CFG_KEY_INT(n, d, lo, hi, text)  CFG_KEY_NUM(CFG_INT, n, d, lo, hi, text)
#define CFG_KEY_SIZE(n, d, lo, hi, text) CFG_KEY_NUM(CFG_SIZE, n, d, lo, hi, text)
#define CFG_KEY_TIME(n, d, lo, hi, text) CFG_KEY_NUM(CFG_TIME, n, d, lo, hi, text)
#define CFG_KEY_MSEC(n, d, lo, hi, text) CFG_KEY_NUM(CFG_MSEC, n, d, lo, hi, text)
#define CFG_KEY_BOOL(n, d, text) { .name = (n), .type = CFG_BOOL, .def = (d), .doc = (text) }
#define CFG_KEY_PATH(n, d, text) { .name = (n), .type = CFG_PATH, .def = (d), .doc = (text) }
#define CFG_KEY_STR(n, d, fn, text) \
	{ .name = (n), .type = CFG_STR, .def = (d), .doc = (text), .check = (fn) }
#define CFG_KEY_LIST(n, d, fn, text) \
	{ .name = (n), .type = CFG_LIST, .def = (d), .doc = (text), .check = (fn) }
#define CFG_KEY_ENUM(n, d, words, text) \
	{ .name = (n), .type = CFG_ENUM, .def = (d), .doc = (text), .choices = (words) }
#define CFG_KEY_RENAMED(old, t, new, fn) \
	{ .name = (old), .type = (t), .def = "", .min = 0, .max = CFG_NO_MAX, \
	  .new_name = (new), .convert = (fn) }
#define CFG_KEY_END { .name = NULL }

#define CFG_MAX_ERRORS 64
#define CFG_MAX_WARNINGS 16
/* Errors make a configuration unusable; warnings (old setting names) do not. */
struct cfg_errors {
	int count;
	char msg[CFG_MAX_ERRORS][512];
	int nwarn;
	char warn[CFG_MAX_WARNINGS][512];
};

struct cfg_value {
	const struct cfg_key *key;
	char *text;		/* value as written (or default) */
	int line;		/* 0 when defaulted */
};

struct cfg {
	char *path;
	char *basedir;		/* for CFG_PATH */
	const struct cfg_key *schema;
	size_t nvalues;
	struct cfg_value *values;
};

/* Load path against schema (terminated by a {NULL} entry). Values missing from the
 * file take their defaults. Returns 0, or -1 with errors appended to errs. On error
 * the cfg is still usable (defaults for bad keys) so callers can collect more. */
int cfg_load(struct cfg *c, const struct cfg_key *schema, const char *path,
	     const char *basedir, struct cfg_errors *errs);
/* The same from an open stream (f NULL: the error of the open that failed,
 * from errno); path names it in messages. */
int cfg_load_stream(struct cfg *c, const struct cfg_key *schema, FILE *f, const char *path,
		    const char *basedir, struct cfg_errors *errs);
void cfg_free(struct cfg *c);

/* Accessors; asking for a key not in the schema is a programming error (abort). */
const char *cfg_str(const struct cfg *c, const char *name);
uint64_t cfg_int(const struct cfg *c, const char *name);	/* INT, SIZE, TIME (s), MSEC (ms) */
bool cfg_bool(const struct cfg *c, const char *name);
/* A yes/no word as the files spell it: 1, 0, or -1 when it is neither. */
int cfg_parse_bool(const char *text);
/* The line where the file sets name, 0 when it takes the default. */
int cfg_key_line(const struct cfg *c, const char *name);
/* Resolved path (absolute); caller frees. */
char *cfg_path(const struct cfg *c, const char *name);
/* List items; returns count, *items malloc'd array of malloc'd strings. */
size_t cfg_list(const struct cfg *c, const char *name, char ***items);
void cfg_list_free(char **items, size_t n);

/* Check one value against its key: type, range, the key's own check. On error
 * writes a reason (naming the key). */
bool cfg_check_value(const struct cfg_key *k, const char *text, char *why, size_t whylen);
/* The schema entry named name (old names included), or NULL. */
const struct cfg_key *cfg_schema_find(const struct cfg_key *schema, const char *name);

/* Write a documented default file for schema to fd (used by `mailctl init` and to
 * generate etc/). overrides: NULL-terminated "key", "value" pairs. */
int cfg_write_defaults(int fd, const char *title, const struct cfg_key *schema,
		       const char *const *overrides);

void cfg_error(struct cfg_errors *errs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cfg_warn(struct cfg_errors *errs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
