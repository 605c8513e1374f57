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

enum cfg_type {
	CFG_STR,	/* any text */
	CFG_INT,	/* non-negative integer */
	CFG_SIZE,	/* bytes, optional suffix k, m, g (powers of 1024) */
	CFG_TIME,	/* seconds, optional suffix s, m, h, d */
	CFG_BOOL,	/* yes/no, true/false, on/off, 1/0 */
	CFG_LIST,	/* comma-separated items, whitespace trimmed, may be empty */
	CFG_PATH,	/* relative paths are relative to the instance directory */
	CFG_ENUM,	/* one of the words in `choices` (comma-separated) */
};

struct cfg_key {
	const char *name;
	enum cfg_type type;
	const char *def;	/* default as it would be written in the file */
	const char *doc;	/* one line, written above the key by `mailctl init` */
	const char *choices;	/* CFG_ENUM only */
};

#define CFG_MAX_ERRORS 64
struct cfg_errors {
	int count;
	char msg[CFG_MAX_ERRORS][512];
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
void cfg_free(struct cfg *c);

/* Accessors; asking for a key not in the schema is a programming error (abort). */
const char *cfg_str(const struct cfg *c, const char *name);
uint64_t cfg_int(const struct cfg *c, const char *name);	/* INT, SIZE, TIME */
bool cfg_bool(const struct cfg *c, const char *name);
/* Resolved path (absolute); caller frees. */
char *cfg_path(const struct cfg *c, const char *name);
/* List items; returns count, *items malloc'd array of malloc'd strings. */
size_t cfg_list(const struct cfg *c, const char *name, char ***items);
void cfg_list_free(char **items, size_t n);

/* Check one value against its type; on error writes a reason. */
bool cfg_check_value(const struct cfg_key *k, const char *text, char *why, size_t whylen);

/* Write a documented default file for schema to fd (used by `mailctl init` and to
 * generate etc/). overrides: NULL-terminated "key", "value" pairs. */
int cfg_write_defaults(int fd, const char *title, const struct cfg_key *schema,
		       const char *const *overrides);

void cfg_error(struct cfg_errors *errs, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
