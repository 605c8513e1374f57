/* metadata.c — METADATA entries: names, the in-memory set, the file. */
#include "imapd/metadata.h"
#include "common/log.h"
#include "common/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The largest file md_load accepts: every entry at its bounds. */
#define MD_MAX_FILE	((size_t)MD_MAX_ENTRIES * (MD_MAX_VALUE + MD_MAX_NAME + 32))

static bool is_root(const char *name)
{
	return !strcmp(name, "/private") || !strcmp(name, "/shared");
}

bool md_entry_valid(char *name, bool allow_root, const char **why)
{
	size_t n = strlen(name);
	*why = "Invalid entry name";
	if (n == 0 || n > MD_MAX_NAME || name[0] != '/' || name[n - 1] == '/')
		return false;
	for (char *p = name; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c == 0x7f || c == '*' || c == '%' || (c == '/' && p[1] == '/'))
			return false;
		*p = (char)tolower(c);	/* entry names are case-insensitive */
	}
	if (is_root(name)) {
		*why = "Entry name must be below /private or /shared";
		return allow_root;
	}
	*why = "Entry name must begin with /private/ or /shared/";
	return !strncmp(name, "/private/", 9) || !strncmp(name, "/shared/", 8);
}

/* Index of name in set, or where it would go (*found false). */
static size_t find(const struct md_set *set, const char *name, bool *found)
{
	size_t lo = 0, hi = set->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(set->e[mid].name, name);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

void md_put(struct md_set *set, char *name, char *value, size_t len)
{
	bool found;
	size_t i = find(set, name, &found);
	if (found) {
		free(set->e[i].value);
		free(name);
		set->e[i].value = value;
		set->e[i].len = len;
		return;
	}
	set->e = xrealloc(set->e, (set->n + 1) * sizeof *set->e);
	memmove(set->e + i + 1, set->e + i, (set->n - i) * sizeof *set->e);
	set->e[i] = (struct md_entry){ name, value, len };
	set->n++;
}

const struct md_entry *md_get(const struct md_set *set, const char *name)
{
	bool found;
	size_t i = find(set, name, &found);
	return found ? &set->e[i] : NULL;
}

void md_free(struct md_set *set)
{
	for (size_t i = 0; i < set->n; i++) {
		free(set->e[i].name);
		free(set->e[i].value);
	}
	free(set->e);
	set->e = NULL;
	set->n = 0;
}

/* Drop removals (a NULL value) from set. */
static void md_compact(struct md_set *set)
{
	size_t o = 0;
	for (size_t i = 0; i < set->n; i++) {
		if (set->e[i].value)
			set->e[o++] = set->e[i];
		else
			free(set->e[i].name);
	}
	set->n = o;
}

/* One record "<len> <name>\n<octets>\n" at *p; false if damaged. */
static bool parse_record(const char **p, const char *end, struct md_set *set)
{
	char *e;
	unsigned long long len = strtoull(*p, &e, 10);
	if (e == *p || *e != ' ' || len > MD_MAX_VALUE)
		return false;
	const char *name = e + 1;
	const char *nl = memchr(name, '\n', (size_t)(end - name));
	if (!nl || (size_t)(end - nl - 1) < len + 1 || nl[1 + len] != '\n')
		return false;
	char *nm = xstrndup(name, (size_t)(nl - name));
	const char *why;
	if (!md_entry_valid(nm, false, &why) || md_get(set, nm) || set->n >= MD_MAX_ENTRIES) {
		free(nm);
		return false;
	}
	char *v = xmalloc(len + 1);
	memcpy(v, nl + 1, len);
	v[len] = '\0';
	md_put(set, nm, v, len);
	*p = nl + 2 + len;
	return true;
}

int md_load(const char *path, struct md_set *set)
{
	set->e = NULL;
	set->n = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		log_err("metadata: cannot open %s: %m", path);
		return -1;
	}
	struct stat st;
	char *buf = NULL;
	bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size <= MD_MAX_FILE;
	if (ok) {
		buf = xmalloc((size_t)st.st_size + 1);
		ok = read_full(fd, buf, (size_t)st.st_size) == 0;
	}
	close(fd);
	const char *p = buf, *end = buf + (ok ? st.st_size : 0);
	while (ok && p < end)
		ok = parse_record(&p, end, set);
	free(buf);
	if (!ok) {
		log_err("metadata: %s is damaged", path);
		md_free(set);
		return -1;
	}
	return 0;
}

int md_save(const char *path, const struct md_set *set)
{
	if (set->n == 0)
		return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
	char *tmp = xasprintf("%s.%ld", path, (long)getpid());
	FILE *f = NULL;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0)
		f = fdopen(fd, "w");
	bool ok = f != NULL;
	for (size_t i = 0; ok && i < set->n; i++) {
		const struct md_entry *e = &set->e[i];
		ok = fprintf(f, "%zu %s\n", e->len, e->name) > 0 &&
		     fwrite(e->value, 1, e->len, f) == e->len && fputc('\n', f) != EOF;
	}
	ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
	if (f)
		ok = fclose(f) == 0 && ok;
	else if (fd >= 0)
		close(fd);
	ok = ok && rename(tmp, path) == 0;
	if (!ok) {
		log_err("metadata: cannot write %s: %m", path);
		unlink(tmp);
	}
	free(tmp);
	return ok ? 0 : -1;
}

int md_update(const char *dir, const char *path, const struct md_set *changes)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || flock(dfd, LOCK_EX) < 0) {
		log_err("metadata: cannot lock %s: %m", dir);
		if (dfd >= 0)
			close(dfd);
		return -1;
	}
	struct md_set set;
	int r = md_load(path, &set);
	for (size_t i = 0; r == 0 && i < changes->n; i++) {
		const struct md_entry *c = &changes->e[i];
		char *v = NULL;
		if (c->value) {
			v = xmalloc(c->len + 1);
			memcpy(v, c->value, c->len + 1);
		}
		md_put(&set, xstrdup(c->name), v, c->len);
	}
	md_compact(&set);
	if (r == 0 && set.n > MD_MAX_ENTRIES)
		r = -2;
	if (r == 0)
		r = md_save(path, &set);
	md_free(&set);
	close(dfd);	/* releases the lock */
	return r;
}

bool md_matches(const char *root, const char *e, enum md_depth d)
{
	size_t n = strlen(root);
	if (strncmp(e, root, n))
		return false;
	if (!e[n])
		return true;
	if (e[n] != '/' || d == MD_DEPTH_0)
		return false;
	return d == MD_DEPTH_INF || !strchr(e + n + 1, '/');
}
