/* mailstore.c — Maildir++ folders of one user, relative to the Maildir root. */
#include "common/mailstore.h"
#include "common/log.h"
#include "common/mailindex.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const ms_special_folders[] = { "Sent", "Drafts", "Trash", "Junk", "Archive", NULL };

static const char *const special_uses[] = { "\\Sent", "\\Drafts", "\\Trash", "\\Junk", "\\Archive" };

/* The attributes recorded for dir: 1 (in buf, maybe empty), 0 none recorded. */
static int read_special_use(const char *dir, char *buf, size_t size)
{
	char *p = xasprintf("%s/%s", dir, MS_SPECIALUSE_FILE);
	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(p);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return 1;
}

const char *ms_special_use(const char *name)
{
	static char buf[128];
	char *dir = ms_folder_dir(name);
	int recorded = dir ? read_special_use(dir, buf, sizeof buf) : 0;
	free(dir);
	if (recorded)
		return *buf ? buf : NULL;
	for (int i = 0; ms_special_folders[i]; i++)
		if (!strcmp(name, ms_special_folders[i]))
			return special_uses[i];
	return NULL;
}

const char *ms_special_use_canon(const char *flag)
{
	for (size_t i = 0; i < ARRAY_LEN(special_uses); i++)
		if (!strcasecmp(flag, special_uses[i]))
			return special_uses[i];
	return NULL;
}

int ms_set_special_use(const char *name, const char *uses)
{
	char *dir = ms_folder_dir(name);
	if (!dir)
		return -1;
	char *tmp = xasprintf("%s/%s.tmp", dir, MS_SPECIALUSE_FILE);
	char *path = xasprintf("%s/%s", dir, MS_SPECIALUSE_FILE);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	int r = -1;
	if (fd >= 0) {
		r = write_all(fd, uses, strlen(uses)) < 0 || write_all(fd, "\n", 1) < 0 ? -1 : 0;
		if (close(fd) < 0)
			r = -1;
	}
	if (r == 0)
		r = rename(tmp, path);
	if (r < 0)
		unlink(tmp);
	free(tmp);
	free(path);
	free(dir);
	return r;
}

bool ms_is_inbox(const char *name)
{
	return !strcasecmp(name, "INBOX");
}

bool ms_valid_name(const char *name)
{
	size_t n = strlen(name);
	if (!n || n > MS_MAX_NAME || name[0] == MS_SEP || name[n - 1] == MS_SEP)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f || c == '/' || (c == MS_SEP && name[i + 1] == MS_SEP))
			return false;
	}
	/* "INBOX.x" would be ambiguous with the root: refuse INBOX children */
	return !(n > 6 && !strncasecmp(name, "INBOX.", 6));
}

char *ms_folder_dir(const char *name)
{
	if (ms_is_inbox(name))
		return xstrdup(".");
	if (!ms_valid_name(name))
		return NULL;
	return xasprintf(".%s", name);
}

static int make_maildir(const char *dir)
{
	static const char *const subs[] = { "cur", "new", "tmp" };
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -1;
	for (int i = 0; i < 3; i++) {
		char *p = xasprintf("%s/%s", dir, subs[i]);
		int r = mkdir(p, 0700);
		free(p);
		if (r < 0 && errno != EEXIST)
			return -1;
	}
	const char *base = strrchr(dir, '/') ? strrchr(dir, '/') + 1 : dir;
	if (base[0] == '.' && base[1] && strcmp(base, "..")) {
		/* Maildir++ marks subfolders with a maildirfolder file */
		char *p = xasprintf("%s/maildirfolder", dir);
		int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
		free(p);
	}
	return 0;
}

int ms_ensure_maildir(const char *root, bool with_specials)
{
	if (make_maildir(root) < 0)
		return -1;
	for (int i = 0; with_specials && ms_special_folders[i]; i++) {
		char *p = xasprintf("%s/.%s", root, ms_special_folders[i]);
		int r = make_maildir(p);
		free(p);
		if (r < 0)
			return -1;
		char *sp = xasprintf("%s/subscriptions", root);
		FILE *f = fopen(sp, "a");
		if (f) {
			fprintf(f, "%s\n", ms_special_folders[i]);
			fclose(f);
		}
		free(sp);
	}
	return 0;
}

int ms_exists(const char *name)
{
	char *d = ms_folder_dir(name);
	if (!d)
		return 0;
	char *cur = xasprintf("%s/cur", d);
	struct stat st;
	int r = stat(cur, &st) == 0 && S_ISDIR(st.st_mode);
	free(cur);
	free(d);
	return r;
}

int ms_create(const char *name)
{
	if (ms_is_inbox(name) || ms_exists(name)) {
		errno = EEXIST;
		return -1;
	}
	char *d = ms_folder_dir(name);
	if (!d) {
		errno = EINVAL;
		return -1;
	}
	/* Maildir++ has no real hierarchy on disk; parents are created so that
	 * LIST shows them as selectable folders */
	for (char *p = d + 1; (p = strchr(p, MS_SEP)); p++) {
		*p = '\0';
		make_maildir(d);
		*p = MS_SEP;
	}
	int r = make_maildir(d);
	free(d);
	return r;
}

static int remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -1;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *p = xasprintf("%s/%s", dir, e->d_name);
		struct stat st;
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			remove_tree(p);
		else
			unlink(p);
		free(p);
	}
	closedir(d);
	return rmdir(dir);
}

int ms_delete(const char *name)
{
	if (ms_is_inbox(name) || !ms_exists(name)) {
		errno = ms_is_inbox(name) ? EPERM : ENOENT;
		return -1;
	}
	char *d = ms_folder_dir(name);
	/* rename first so a concurrent session sees it gone at once */
	char *trash = xasprintf(".tern-deleted.%ld.%d", (long)time(NULL), (int)getpid());
	int r = rename(d, trash);
	if (r == 0)
		r = remove_tree(trash);
	free(trash);
	free(d);
	return r;
}

static int rename_inbox(const char *to)
{
	if (ms_create(to) < 0)
		return -1;
	char *dst = ms_folder_dir(to);
	/* the files' keyword letters mean what INBOX's table says: take it along
	 * (a link: each side later replaces its own by rename) */
	char *kw = xasprintf("%s/dovecot-keywords", dst);
	if (link("dovecot-keywords", kw) < 0 && errno != ENOENT)
		log_warn("rename INBOX: cannot take dovecot-keywords along: %s", strerror(errno));
	free(kw);
	DIR *d = opendir("cur");
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char *from = xasprintf("cur/%s", e->d_name);
			char *top = xasprintf("%s/cur/%s", dst, e->d_name);
			rename(from, top);
			free(from);
			free(top);
		}
		closedir(d);
	}
	free(dst);
	return 0;
}

int ms_rename(const char *from, const char *to)
{
	if (ms_exists(to) || ms_is_inbox(to)) {
		errno = EEXIST;
		return -1;
	}
	if (!ms_valid_name(to)) {
		errno = EINVAL;
		return -1;
	}
	if (ms_is_inbox(from))
		return rename_inbox(to);
	if (!ms_exists(from)) {
		errno = ENOENT;
		return -1;
	}
	char **names;
	size_t n = ms_list(&names);
	size_t fl = strlen(from);
	int rc = 0;
	/* the folder itself and every child "from.x" */
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (strncmp(names[i], from, fl) || (names[i][fl] && names[i][fl] != MS_SEP))
			continue;
		char *nn = xasprintf("%s%s", to, names[i] + fl);
		char *a = ms_folder_dir(names[i]), *b = ms_folder_dir(nn);
		/* the index keeps its UIDs: RFC 3501 lets UIDVALIDITY stay */
		rc = a && b ? rename(a, b) : -1;
		free(a);
		free(b);
		free(nn);
	}
	ms_free_list(names, n);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t ms_list(char ***names)
{
	size_t n = 0, cap = 16;
	char **v = xcalloc(cap, sizeof *v);
	v[n++] = xstrdup("INBOX");
	DIR *d = opendir(".");
	struct dirent *e;
	while (d && (e = readdir(d)) && n < MS_MAX_FOLDERS) {
		if (e->d_name[0] != '.' || !ms_valid_name(e->d_name + 1) ||
		    !strncmp(e->d_name, ".tern-", 6))
			continue;
		if (!ms_exists(e->d_name + 1))
			continue;
		if (n == cap) {
			cap *= 2;
			v = xrealloc(v, cap * sizeof *v);
		}
		v[n++] = xstrdup(e->d_name + 1);
	}
	if (d)
		closedir(d);
	qsort(v + 1, n - 1, sizeof *v, cmp_str);
	*names = v;
	return n;
}

void ms_free_list(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

size_t ms_subscriptions(char ***names)
{
	size_t n = 0;
	char **v = NULL;
	FILE *f = fopen("subscriptions", "r");
	char line[MS_MAX_NAME + 2];
	while (f && fgets(line, sizeof line, f) && n < MS_MAX_FOLDERS) {
		line[strcspn(line, "\r\n")] = '\0';
		if (!*line)
			continue;
		bool dup = false;
		for (size_t i = 0; i < n && !dup; i++)
			dup = !strcmp(v[i], line);
		if (dup)
			continue;
		v = xrealloc(v, (n + 1) * sizeof *v);
		v[n++] = xstrdup(line);
	}
	if (f)
		fclose(f);
	*names = v;
	return n;
}

int ms_subscribe(const char *name, bool on)
{
	char **v;
	size_t n = ms_subscriptions(&v);
	FILE *f = fopen("subscriptions.tmp", "w");
	if (!f) {
		ms_free_list(v, n);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], name))
			fprintf(f, "%s\n", v[i]);
	if (on)
		fprintf(f, "%s\n", name);
	ms_free_list(v, n);
	if (fclose(f) != 0)
		return -1;
	return rename("subscriptions.tmp", "subscriptions");
}

/* ---- names: stored (modified UTF-7) and UTF-8 ---- */

/* Only printable ASCII stands for itself in modified UTF-7 (RFC 3501 5.1.3):
 * a control character is encoded ("&AAE-"), so a name holding one is not the
 * same in both forms (found by fuzz_mboxname: "\x01" went to the store as
 * itself, not as the name it was read from). */
bool ms_name_plain(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f || *s == '&')
			return false;
	return true;
}

/* Strict conversion: NULL on any invalid or incomplete sequence, or when the
 * result would hold a NUL. */
static char *name_convert(const char *to, const char *from, const char *s)
{
	iconv_t cd = iconv_open(to, from);
	if (cd == (iconv_t)-1)
		return NULL;
	size_t n = strlen(s), cap = n * 4 + 16, left = cap - 1;
	char *out = xmalloc(cap), *o = out, *in = (char *)s;
	bool ok = iconv(cd, &in, &n, &o, &left) != (size_t)-1 &&
		  iconv(cd, NULL, NULL, &o, &left) != (size_t)-1;
	iconv_close(cd);
	*o = '\0';
	if (!ok || strlen(out) != (size_t)(o - out)) {
		free(out);
		return NULL;
	}
	return out;
}

char *ms_name_from_utf8(const char *name)
{
	return ms_name_plain(name) ? xstrdup(name) : name_convert("UTF-7-IMAP", "UTF-8", name);
}

char *ms_name_to_utf8(const char *name)
{
	if (ms_name_plain(name))
		return xstrdup(name);
	char *u = name_convert("UTF-8", "UTF-7-IMAP", name);
	/* only the one canonical encoding counts (RFC 3501 5.1.3): iconv also
	 * takes an unterminated shift or ASCII encoded in base64 */
	char *back = u ? name_convert("UTF-7-IMAP", "UTF-8", u) : NULL;
	if (u && (!back || strcmp(back, name))) {
		free(u);
		u = NULL;
	}
	free(back);
	return u;
}
