/* cmd_directory.c — `mailctl directory init|export|import`: prepare the
 * directory tern.conf names, and move a site's domains, users (with their
 * password hashes) and aliases between backends (BDB to PostgreSQL and
 * back) as a text file:
 *
 *   tern-directory 1
 *   domain<TAB>DOMAIN
 *   user<TAB>ADDRESS<TAB>QUOTA<TAB>HOST<TAB>HASH
 *   alias<TAB>KEY<TAB>TARGET,TARGET...
 *
 * An import checks the whole file before it writes anything, then writes
 * domains, users and aliases in that order (a user needs its domain);
 * entries of the same address are replaced, so an import may be repeated. */
#include "mailctl/commands.h"
#include "mailctl/userctl.h"
#include "common/directory.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DUMP_MAGIC	"tern-directory 1"
/* The longest line: an alias with every target at the longest address. */
#define DUMP_LINE_MAX	(16 + USERDB_MAX_ADDR * (USERDB_MAX_TARGETS + 1))

enum entry_kind { ENTRY_DOMAIN, ENTRY_USER, ENTRY_ALIAS };

struct entry {
	enum entry_kind kind;
	unsigned line;
	char *key;			/* domain, address or alias key */
	char *value;			/* hash or targets; NULL for a domain */
	struct userdb_user u;
};

struct dump {
	struct entry *e;
	size_t n, cap;
};

/* ---- export ---- */

static void put_domain(const char *domain, void *arg)
{
	fprintf(arg, "domain\t%s\n", domain);
}

static void put_user(const char *address, const struct userdb_user *u, const char *hash, void *arg)
{
	fprintf(arg, "user\t%s\t%llu\t%s\t%s\n", address, (unsigned long long)u->quota, u->host, hash);
}

static void put_alias(const char *key, const char *targets, void *arg)
{
	fprintf(arg, "alias\t%s\t%s\n", key, targets);
}

/* The export holds password hashes: a file is made 0600, never over another. */
static FILE *open_out(const char *path)
{
	if (!path || !strcmp(path, "-"))
		return stdout;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		cmd_error("cannot create %s: %s (the export is written only to a new file)", path,
			  strerror(errno));
		return NULL;
	}
	return fdopen(fd, "w");
}

static int dir_export(struct userctl *u, char **a, int n)
{
	FILE *f = open_out(n ? a[0] : NULL);
	if (!f)
		return 1;
	fprintf(f, "%s\n", DUMP_MAGIC);
	int r = dir_domain_list(u->dir, put_domain, f);
	if (r == 0)
		r = dir_user_list_hashes(u->dir, put_user, f);
	if (r == 0)
		r = dir_alias_list(u->dir, NULL, put_alias, f);
	bool werr = ferror(f) != 0;
	if ((f == stdout ? fflush(f) : fclose(f)) != 0)
		werr = true;
	if (r < 0)
		return cmd_error("cannot read the directory (%s): %s", dir_describe(u->dir),
				 dir_last_error());
	if (werr)
		return cmd_error("cannot write the export: %s", strerror(errno));
	return 0;
}

/* ---- import: parse and check ---- */

static void dump_free(struct dump *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->e[i].key);
		if (d->e[i].value)
			explicit_bzero(d->e[i].value, strlen(d->e[i].value));
		free(d->e[i].value);
	}
	free(d->e);
}

/* Split line at tabs into at most max fields; the count. */
static int split_tabs(char *line, char **f, int max)
{
	int n = 0;
	for (char *p = line; n < max; ) {
		f[n++] = p;
		p = strchr(p, '\t');
		if (!p)
			return n;
		*p++ = '\0';
	}
	return n + 1;	/* more fields than max: a malformed line */
}

/* A user line's fields (after "user") into e; NULL or the fault. */
static const char *parse_user(char **f, struct entry *e)
{
	char a[USERDB_MAX_ADDR];
	if (!userdb_norm_address(f[0], a) || strchr(a, '+'))
		return "not a user address";
	if (!parse_u64(f[1], INT64_MAX, &e->u.quota))
		return "bad quota";
	if (!userdb_norm_host(f[2], e->u.host))
		return "bad mailbox host";
	if (!userdb_hash_valid(f[3]))
		return "not a crypt(3) password hash";
	e->key = xstrdup(a);
	e->value = xstrdup(f[3]);
	return NULL;
}

/* One line into e; NULL or what is wrong with it. */
static const char *parse_line(char *line, struct entry *e)
{
	char *f[6], norm[USERDB_MAX_ADDR];
	int n = split_tabs(line, f, 5);
	if (n == 2 && !strcmp(f[0], "domain")) {
		if (!userdb_norm_domain(f[1], norm))
			return "not a domain name";
		e->kind = ENTRY_DOMAIN;
		e->key = xstrdup(norm);
		return NULL;
	}
	if (n == 5 && !strcmp(f[0], "user")) {
		e->kind = ENTRY_USER;
		return parse_user(f + 1, e);
	}
	if (n == 3 && !strcmp(f[0], "alias")) {
		if (!userdb_norm_alias_key(f[1], norm))
			return "not an alias (local@domain or @domain)";
		if (!*f[2])
			return "an alias without targets";
		e->kind = ENTRY_ALIAS;
		e->key = xstrdup(norm);
		e->value = xstrdup(f[2]);
		return NULL;
	}
	return "expected domain, user or alias with their tab-separated fields";
}

/* Read the whole file into d; 0, or 1 after an error line naming the line. */
static int read_dump(FILE *in, const char *name, struct dump *d)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned no = 0;
	int rc = 0;
	while (rc == 0 && (len = getline(&line, &cap, in)) >= 0) {
		no++;
		if (len > DUMP_LINE_MAX) {
			rc = cmd_error("%s line %u: longer than %d bytes", name, no, DUMP_LINE_MAX);
			break;
		}
		line[strcspn(line, "\r\n")] = '\0';
		if (no == 1) {
			if (strcmp(line, DUMP_MAGIC))
				rc = cmd_error("%s is not a tern directory export (first line \"%s\")",
					       name, DUMP_MAGIC);
			continue;
		}
		if (!*line || *line == '#')
			continue;
		if (d->n == d->cap) {
			d->cap = d->cap ? d->cap * 2 : 64;
			d->e = xrealloc(d->e, d->cap * sizeof *d->e);
		}
		struct entry *e = &d->e[d->n];
		memset(e, 0, sizeof *e);
		e->line = no;
		const char *bad = parse_line(line, e);
		d->n++;
		if (bad)
			rc = cmd_error("%s line %u: %s; nothing was imported", name, no, bad);
	}
	if (line)
		explicit_bzero(line, cap);
	free(line);
	if (rc == 0 && ferror(in))
		rc = cmd_error("cannot read %s: %s", name, strerror(errno));
	if (rc == 0 && no == 0)
		rc = cmd_error("%s is empty (not a tern directory export)", name);
	return rc;
}

/* ---- import: write ---- */

static int put_entry(struct directory *dir, const struct entry *e, char *why, size_t whylen)
{
	switch (e->kind) {
	case ENTRY_DOMAIN:
		return dir_domain_add(dir, e->key, why, whylen);
	case ENTRY_USER:
		return dir_user_put_hash(dir, e->key, &e->u, e->value, why, whylen);
	case ENTRY_ALIAS:
		return dir_alias_put(dir, e->key, e->value, why, whylen);
	}
	return -1;
}

static int write_dump(struct userctl *u, const char *name, const struct dump *d)
{
	char why[512];
	size_t count[3] = { 0 };
	for (int kind = ENTRY_DOMAIN; kind <= ENTRY_ALIAS; kind++) {
		for (size_t i = 0; i < d->n; i++) {
			const struct entry *e = &d->e[i];
			if ((int)e->kind != kind)
				continue;
			if (put_entry(u->dir, e, why, sizeof why) < 0)
				return cmd_error("%s line %u: %s (the entries before it were imported; "
						 "an import may be repeated)", name, e->line, why);
			count[kind]++;
		}
	}
	printf("imported %zu domain(s), %zu user(s), %zu alias(es) into %s\n", count[ENTRY_DOMAIN],
	       count[ENTRY_USER], count[ENTRY_ALIAS], dir_describe(u->dir));
	return 0;
}

static int dir_import(struct userctl *u, char **a, int n)
{
	const char *name = n && strcmp(a[0], "-") ? a[0] : "standard input";
	FILE *in = name == a[0] ? fopen(a[0], "re") : stdin;
	if (!in)
		return cmd_error("cannot open %s: %s", a[0], strerror(errno));
	struct dump d = { 0 };
	int r = read_dump(in, name, &d);
	if (in != stdin)
		fclose(in);
	if (r == 0)
		r = write_dump(u, name, &d);
	dump_free(&d);
	return r;
}

/* ---- init ---- */

static int dir_init(struct userctl *u, char **a, int n)
{
	char why[512];
	if (dir_prepare(u->dir, why, sizeof why) < 0)
		return cmd_error("%s", why);
	printf("directory ready: %s\n", dir_describe(u->dir));
	return 0;
}

static const struct userctl_sub directory_subs[] = {
	{ "init", 0, 0, dir_init, "directory init",
	  "create what the directory of tern.conf needs (pgsql: the tables; safe to repeat)" },
	{ "export", 0, 1, dir_export, "directory export [FILE]",
	  "write every domain, user (with its password hash) and alias to FILE (created 0600; "
	  "default: standard output)" },
	{ "import", 0, 1, dir_import, "directory import [FILE]",
	  "read an export (default: standard input) into the directory of tern.conf; the whole "
	  "file is checked first; entries of the same address are replaced" },
};

int cmd_directory(const char *dir, int argc, char **argv)
{
	return userctl_run_sub("directory", directory_subs, ARRAY_LEN(directory_subs), dir, argc,
			       argv, "directory init|export|import [FILE]");
}
