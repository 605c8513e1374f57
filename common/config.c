/* config.c — parser and typed accessors for `key = value` files. */
#include "common/config.h"
#include "common/util.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define CFG_LINE_MAX 4096

void cfg_error(struct cfg_errors *errs, const char *fmt, ...)
{
	va_list ap;
	if (!errs || errs->count >= CFG_MAX_ERRORS)
		return;
	va_start(ap, fmt);
	vsnprintf(errs->msg[errs->count++], sizeof errs->msg[0], fmt, ap);
	va_end(ap);
}

void cfg_warn(struct cfg_errors *errs, const char *fmt, ...)
{
	va_list ap;
	if (!errs || errs->nwarn >= CFG_MAX_WARNINGS)
		return;
	va_start(ap, fmt);
	vsnprintf(errs->warn[errs->nwarn++], sizeof errs->warn[0], fmt, ap);
	va_end(ap);
}

static bool parse_scaled(const char *s, const char *suffixes, const uint64_t *mult,
			 uint64_t *out)
{
	char num[32];
	size_t n = strlen(s);
	uint64_t m = 1, v;
	if (n == 0 || n >= sizeof num)
		return false;
	memcpy(num, s, n + 1);
	const char *p = strchr(suffixes, tolower((unsigned char)num[n - 1]));
	if (p && num[n - 1]) {
		m = mult[p - suffixes];
		num[--n] = '\0';
	}
	if (!parse_u64(num, UINT64_MAX / m, &v))
		return false;
	*out = v * m;
	return true;
}

static bool parse_size(const char *s, uint64_t *out)
{
	static const uint64_t mult[] = { 1024, 1024 * 1024, 1024ull * 1024 * 1024 };
	return parse_scaled(s, "kmg", mult, out);
}

static bool parse_time(const char *s, uint64_t *out)
{
	static const uint64_t mult[] = { 1, 60, 3600, 86400 };
	return parse_scaled(s, "smhd", mult, out);
}

int cfg_parse_bool(const char *s)
{
	static const char *yes[] = { "yes", "true", "on", "1" };
	static const char *no[] = { "no", "false", "off", "0" };
	for (size_t i = 0; i < ARRAY_LEN(yes); i++) {
		if (!strcasecmp(s, yes[i]))
			return 1;
		if (!strcasecmp(s, no[i]))
			return 0;
	}
	return -1;
}

static bool enum_has(const char *choices, const char *s)
{
	size_t n = strlen(s);
	for (const char *p = choices; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len == n && !strncmp(p, s, n))
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

/* A number as it would be written in a file of that type (the largest exact unit). */
static void format_num(enum cfg_type t, uint64_t v, char *out, size_t len)
{
	if (t == CFG_MSEC) {
		if (v % 1000 == 0 || v == UINT64_MAX)
			format_num(CFG_TIME, v == UINT64_MAX ? v : v / 1000, out, len);
		else
			snprintf(out, len, "%llums", (unsigned long long)v);
		return;
	}
	static const uint64_t size_mult[] = { 1024ull * 1024 * 1024, 1024 * 1024, 1024 };
	static const uint64_t time_mult[] = { 86400, 3600, 60 };
	const uint64_t *mult = t == CFG_SIZE ? size_mult : time_mult;
	const char *units = t == CFG_SIZE ? "gmk" : "dhm";
	if ((t == CFG_SIZE || t == CFG_TIME) && v) {
		for (int i = 0; i < 3; i++) {
			if (v % mult[i] == 0) {
				snprintf(out, len, "%llu%c", (unsigned long long)(v / mult[i]), units[i]);
				return;
			}
		}
	}
	snprintf(out, len, "%llu%s", (unsigned long long)v, t == CFG_TIME && v ? "s" : "");
}

/* Milliseconds: "250ms", or a time in seconds as CFG_TIME writes it. */
static bool parse_msec(const char *s, uint64_t *out)
{
	size_t n = strlen(s);
	if (n > 2 && !strcasecmp(s + n - 2, "ms")) {
		char num[32];
		if (n - 2 >= sizeof num)
			return false;
		memcpy(num, s, n - 2);
		num[n - 2] = '\0';
		return parse_u64(num, UINT64_MAX, out);
	}
	uint64_t sec;
	if (!parse_time(s, &sec) || sec > UINT64_MAX / 1000)
		return false;
	*out = sec * 1000;
	return true;
}

static bool parse_number(enum cfg_type t, const char *text, uint64_t *v)
{
	if (t == CFG_MSEC)
		return parse_msec(text, v);
	if (t == CFG_SIZE)
		return parse_size(text, v);
	if (t == CFG_TIME)
		return parse_time(text, v);
	return parse_u64(text, UINT64_MAX, v);
}

static bool check_number(const struct cfg_key *k, const char *text, char *why, size_t whylen)
{
	static const char *const form[] = {
		[CFG_INT] = "a whole number",
		[CFG_SIZE] = "a size like 512, 64k, 35m or 2g",
		[CFG_TIME] = "a time like 30, 30s, 5m, 1h or 5d",
		[CFG_MSEC] = "a time like 250ms, 2s or 1m",
	};
	uint64_t v;
	char lo[32], hi[32];
	if (!parse_number(k->type, text, &v)) {
		snprintf(why, whylen, "%s must be %s, not \"%s\"", k->name, form[k->type], text);
		return false;
	}
	if (v >= k->min && v <= k->max)
		return true;
	format_num(k->type, k->min, lo, sizeof lo);
	format_num(k->type, k->max, hi, sizeof hi);
	if (k->max == CFG_NO_MAX)
		snprintf(why, whylen, "%s must be at least %s, not %s", k->name, lo, text);
	else
		snprintf(why, whylen, "%s must be from %s to %s, not %s", k->name, lo, hi, text);
	return false;
}

/* Each item of a list through the key's check (items as cfg_list splits them). */
static bool check_items(const struct cfg_key *k, const char *text, char *why, size_t whylen)
{
	char *copy = xstrdup(text), *save = NULL, reason[256];
	bool ok = true;
	for (char *tok = strtok_r(copy, ",", &save); tok && ok; tok = strtok_r(NULL, ",", &save)) {
		tok = str_trim(tok);
		if (*tok && !k->check(tok, reason, sizeof reason)) {
			snprintf(why, whylen, "%s: \"%s\" %s", k->name, tok, reason);
			ok = false;
		}
	}
	free(copy);
	return ok;
}

bool cfg_check_value(const struct cfg_key *k, const char *text, char *why, size_t whylen)
{
	char reason[256];
	switch (k->type) {
	case CFG_STR:
		if (!k->check || k->check(text, reason, sizeof reason))
			return true;
		snprintf(why, whylen, "%s: \"%s\" %s", k->name, text, reason);
		return false;
	case CFG_LIST:
		return !k->check || check_items(k, text, why, whylen);
	case CFG_PATH:
		if (!*text) {
			snprintf(why, whylen, "%s needs a path", k->name);
			return false;
		}
		return true;
	case CFG_INT:
	case CFG_SIZE:
	case CFG_TIME:
	case CFG_MSEC:
		return check_number(k, text, why, whylen);
	case CFG_BOOL:
		if (cfg_parse_bool(text) >= 0)
			return true;
		snprintf(why, whylen, "%s must be yes or no, not \"%s\"", k->name, text);
		return false;
	case CFG_ENUM:
		if (enum_has(k->choices, text))
			return true;
		snprintf(why, whylen, "%s must be one of %s, not \"%s\"", k->name, k->choices, text);
		return false;
	}
	return false;
}

const struct cfg_key *cfg_schema_find(const struct cfg_key *schema, const char *name)
{
	for (; schema->name; schema++)
		if (!strcmp(schema->name, name))
			return schema;
	return NULL;
}

static void set_defaults(struct cfg *c)
{
	size_t n = 0;
	while (c->schema[n].name)
		n++;
	c->nvalues = n;
	c->values = xcalloc(n, sizeof *c->values);
	for (size_t i = 0; i < n; i++) {
		c->values[i].key = &c->schema[i];
		c->values[i].text = xstrdup(c->schema[i].def ? c->schema[i].def : "");
	}
}

static const struct cfg_value *find_value(const struct cfg *c, const char *name)
{
	for (size_t i = 0; i < c->nvalues; i++)
		if (!strcmp(c->values[i].key->name, name))
			return &c->values[i];
	fatal("config: no setting \"%s\" in schema of %s (bug)", name, c->path);
}

/* Store a value read on lineno; refuses a second value for the same key. */
static void set_value(struct cfg *c, const struct cfg_key *k, const char *written_as,
		      const char *val, int lineno, struct cfg_errors *errs)
{
	struct cfg_value *v = &c->values[k - c->schema];
	if (v->line) {
		cfg_error(errs, "%s:%d: \"%s\" already set on line %d", c->path, lineno, written_as,
			  v->line);
		return;
	}
	free(v->text);
	v->text = xstrdup(val);
	v->line = lineno;
}

/* A value under an old name: checked as the old key, converted, then checked
 * and stored as the new one, with a warning saying what to write instead. */
static void set_renamed(struct cfg *c, const struct cfg_key *old, const char *val, int lineno,
			struct cfg_errors *errs)
{
	char why[256];
	const struct cfg_key *k = cfg_schema_find(c->schema, old->new_name);
	if (!k)
		fatal("config: %s renamed to unknown %s (bug)", old->name, old->new_name);
	const char *nv = old->convert ? old->convert(val) : val;
	if (!cfg_check_value(k, nv, why, sizeof why)) {
		cfg_error(errs, "%s:%d: %s (read from the old name %s)", c->path, lineno, why,
			  old->name);
		return;
	}
	cfg_warn(errs, "%s:%d: warning: %s is an old name: write \"%s = %s\" instead", c->path,
		 lineno, old->name, k->name, nv);
	set_value(c, k, old->name, nv, lineno, errs);
}

static void parse_line(struct cfg *c, char *line, int lineno, struct cfg_errors *errs)
{
	char why[256];
	char *s = str_trim(line);
	if (!*s || *s == '#')
		return;
	char *eq = strchr(s, '=');
	if (!eq) {
		cfg_error(errs, "%s:%d: expected \"key = value\"", c->path, lineno);
		return;
	}
	*eq = '\0';
	char *key = str_trim(s), *val = str_trim(eq + 1);
	const struct cfg_key *k = cfg_schema_find(c->schema, key);
	if (!k) {
		cfg_error(errs, "%s:%d: unknown key \"%s\"", c->path, lineno, key);
		return;
	}
	if (!cfg_check_value(k, val, why, sizeof why)) {
		cfg_error(errs, "%s:%d: %s", c->path, lineno, why);
		return;
	}
	if (k->new_name)
		set_renamed(c, k, val, lineno, errs);
	else
		set_value(c, k, key, val, lineno, errs);
}

/* Keys that must not be below another (maximal_backoff_time >= minimal_...):
 * reported on the line of whichever of the two the file sets. */
static void check_order(struct cfg *c, struct cfg_errors *errs)
{
	for (size_t i = 0; i < c->nvalues; i++) {
		const struct cfg_value *v = &c->values[i];
		if (!v->key->at_least)
			continue;
		const struct cfg_value *f = find_value(c, v->key->at_least);
		if (cfg_int(c, v->key->name) >= cfg_int(c, f->key->name))
			continue;
		cfg_error(errs, "%s:%d: %s (%s) must not be below %s (%s)", c->path,
			  v->line ? v->line : f->line, v->key->name, v->text, f->key->name, f->text);
	}
}

/* One line of f into line (without its newline), its true length in *n even
 * with NUL bytes in it. 0 at end of file; -1 when longer than CFG_LINE_MAX
 * (the rest of that line is read and dropped). */
static int read_line(FILE *f, char *line, size_t *n)
{
	int ch;
	*n = 0;
	while ((ch = getc(f)) != EOF && ch != '\n') {
		if (*n == CFG_LINE_MAX) {
			while ((ch = getc(f)) != EOF && ch != '\n')
				;
			return -1;
		}
		line[(*n)++] = (char)ch;
	}
	line[*n] = '\0';
	return ch == EOF && *n == 0 ? 0 : 1;
}

int cfg_load_stream(struct cfg *c, const struct cfg_key *schema, FILE *f, const char *path,
		    const char *basedir, struct cfg_errors *errs)
{
	int before = errs ? errs->count : 0, lineno = 0, r;
	char line[CFG_LINE_MAX + 1];
	size_t n;

	memset(c, 0, sizeof *c);
	c->path = xstrdup(path);
	c->basedir = xstrdup(basedir ? basedir : ".");
	c->schema = schema;
	set_defaults(c);
	if (!f) {
		cfg_error(errs, "%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	while ((r = read_line(f, line, &n)) != 0) {
		lineno++;
		if (r < 0)
			cfg_error(errs, "%s:%d: line longer than %d bytes", path, lineno, CFG_LINE_MAX);
		else if (strlen(line) != n)
			cfg_error(errs, "%s:%d: NUL byte in line", path, lineno);
		else
			parse_line(c, line, lineno, errs);
	}
	check_order(c, errs);
	return (errs && errs->count > before) ? -1 : 0;
}

int cfg_load(struct cfg *c, const struct cfg_key *schema, const char *path,
	     const char *basedir, struct cfg_errors *errs)
{
	FILE *f = fopen(path, "re");
	int r = cfg_load_stream(c, schema, f, path, basedir, errs);
	if (f)
		fclose(f);
	return r;
}

void cfg_free(struct cfg *c)
{
	for (size_t i = 0; i < c->nvalues; i++)
		free(c->values[i].text);
	free(c->values);
	free(c->path);
	free(c->basedir);
	memset(c, 0, sizeof *c);
}

const char *cfg_str(const struct cfg *c, const char *name)
{
	return find_value(c, name)->text;
}

uint64_t cfg_int(const struct cfg *c, const char *name)
{
	const struct cfg_value *v = find_value(c, name);
	uint64_t n = 0;
	if (parse_number(v->key->type, v->text, &n))
		return n;
	/* Only reachable with a bad default in a schema. */
	fatal("config: bad value for %s: %s (bug)", name, v->text);
}

bool cfg_bool(const struct cfg *c, const char *name)
{
	return cfg_parse_bool(find_value(c, name)->text) == 1;
}

int cfg_key_line(const struct cfg *c, const char *name)
{
	return find_value(c, name)->line;
}

char *cfg_path(const struct cfg *c, const char *name)
{
	const char *t = find_value(c, name)->text;
	if (t[0] == '/')
		return xstrdup(t);
	return xasprintf("%s/%s", c->basedir, t);
}

size_t cfg_list(const struct cfg *c, const char *name, char ***items)
{
	char *copy = xstrdup(find_value(c, name)->text), *save = NULL;
	size_t n = 0;
	*items = NULL;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		tok = str_trim(tok);
		if (!*tok)
			continue;
		*items = xrealloc(*items, (n + 1) * sizeof **items);
		(*items)[n++] = xstrdup(tok);
	}
	free(copy);
	return n;
}

void cfg_list_free(char **items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	free(items);
}

static const char *override_for(const char *const *ov, const char *name)
{
	for (; ov && ov[0]; ov += 2)
		if (!strcmp(ov[0], name))
			return ov[1];
	return NULL;
}

/* Text as "# " comment lines of at most 78 columns, broken between words. */
static void write_comment(FILE *f, const char *text)
{
	const size_t width = 76;
	while (*text) {
		size_t n = strlen(text);
		if (n > width) {
			n = width;
			while (n > 0 && text[n] != ' ')
				n--;
			if (n == 0)
				n = strcspn(text, " ");
		}
		fprintf(f, "# %.*s\n", (int)n, text);
		text += n;
		while (*text == ' ')
			text++;
	}
}

/* The key's documentation, with its choices or range. */
static void write_doc(FILE *f, const struct cfg_key *k)
{
	char lo[32], hi[32], extra[96] = "";
	if (k->type == CFG_ENUM)
		snprintf(extra, sizeof extra, " (%s)", k->choices);
	if (k->type == CFG_INT || k->type == CFG_SIZE || k->type == CFG_TIME || k->type == CFG_MSEC) {
		format_num(k->type, k->min, lo, sizeof lo);
		format_num(k->type, k->max, hi, sizeof hi);
		if (k->max == CFG_NO_MAX)
			snprintf(extra, sizeof extra, " (at least %s)", lo);
		else
			snprintf(extra, sizeof extra, " (%s to %s)", lo, hi);
	}
	char *text = xasprintf("%s%s", k->doc, extra);
	fprintf(f, "\n");
	write_comment(f, text);
	free(text);
}

int cfg_write_defaults(int fd, const char *title, const struct cfg_key *schema,
		       const char *const *overrides)
{
	FILE *f = fdopen(dup(fd), "w");
	if (!f)
		return -1;
	fprintf(f, "# %s\n#\n# Format: key = value; '#' starts a comment; lists are comma-separated.\n"
		   "# Sizes take k/m/g, times s/m/h/d. Relative paths are relative to the\n"
		   "# instance directory. `mailctl check` validates this file.\n", title);
	for (const struct cfg_key *k = schema; k->name; k++) {
		if (k->new_name)
			continue;
		const char *ov = override_for(overrides, k->name);
		write_doc(f, k);
		const char *v = ov && (!k->def || strcmp(ov, k->def)) ? ov : k->def ? k->def : "";
		fprintf(f, "%s%s =%s%s\n", v == ov ? "" : "#", k->name, *v ? " " : "", v);
	}
	return fclose(f) == 0 ? 0 : -1;
}
