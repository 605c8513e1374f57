/* mailkeywords.c — the dovecot-keywords file and keyword letters. */
#include "common/mailkeywords.h"
#include "common/mailindex.h"
#include "common/util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MKW_FILE_MAX (64 * 1024)

static bool valid_name(const char *s, size_t n)
{
	if (!n || n > MKW_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return false;
	return true;
}

void mkw_load(const char *dir, struct mkw *k)
{
	memset(k, 0, sizeof *k);
	char *p = xasprintf("%s/%s", dir, MKW_FILE);
	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(p);
	if (fd < 0)
		return;
	char *buf = xmalloc(MKW_FILE_MAX + 1);
	ssize_t n = read(fd, buf, MKW_FILE_MAX);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	for (char *line = buf, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		char *end;
		long idx = strtol(line, &end, 10);
		if (end == line || *end != ' ' || idx < 0 || idx >= MKW_SLOTS || k->name[idx])
			continue;
		const char *name = end + 1;
		if (valid_name(name, strlen(name)))
			k->name[idx] = xstrdup(name);
	}
	free(buf);
}

void mkw_free(struct mkw *k)
{
	for (int i = 0; i < MKW_SLOTS; i++)
		free(k->name[i]);
	memset(k, 0, sizeof *k);
}

int mkw_save(const char *dir, struct mkw *k)
{
	char *tmp = xasprintf("%s/%s.tmp.%d", dir, MKW_FILE, (int)getpid());
	char *path = xasprintf("%s/%s", dir, MKW_FILE);
	int rc = -1;
	FILE *f = fopen(tmp, "we");
	if (f) {
		for (int i = 0; i < MKW_SLOTS; i++)
			if (k->name[i])
				fprintf(f, "%d %s\n", i, k->name[i]);
		bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
		ok = fclose(f) == 0 && ok;
		rc = ok && rename(tmp, path) == 0 ? 0 : -1;
		if (rc < 0)
			unlink(tmp);
	}
	if (rc == 0)
		k->changed = false;
	free(tmp);
	free(path);
	return rc;
}

static int slot_of(const struct mkw *k, const char *name, size_t n)
{
	for (int i = 0; i < MKW_SLOTS; i++)
		if (k->name[i] && strlen(k->name[i]) == n && !strncasecmp(k->name[i], name, n))
			return i;
	return -1;
}

void mkw_letters(struct mkw *k, const char *keywords, char out[MKW_SLOTS + 1])
{
	bool on[MKW_SLOTS] = { false };
	for (const char *p = keywords ? keywords : ""; *p;) {
		size_t n = strcspn(p, " ");
		int slot = slot_of(k, p, n);
		for (int i = 0; slot < 0 && i < MKW_SLOTS && valid_name(p, n); i++) {
			if (!k->name[i]) {
				k->name[i] = xstrndup(p, n);
				k->changed = true;
				slot = i;
			}
		}
		if (slot >= 0)
			on[slot] = true;
		p += n;
		p += strspn(p, " ");
	}
	size_t o = 0;
	for (int i = 0; i < MKW_SLOTS; i++)
		if (on[i])
			out[o++] = (char)('a' + i);
	out[o] = '\0';
}

static void append_word(char *out, size_t cap, const char *w, size_t n)
{
	size_t len = strlen(out);
	if (len + n + 2 > cap)
		return;
	if (len)
		out[len++] = ' ';
	memcpy(out + len, w, n);
	out[len + n] = '\0';
}

char *mkw_names(const struct mkw *k, const char *info, const char *keep)
{
	char *out = xcalloc(1, MI_MAX_KEYWORDS_LEN + 1);
	const char *letters = info ? strstr(info, ":2,") : NULL;
	for (const char *c = letters ? letters + 3 : ""; *c; c++) {
		if (*c >= 'a' && *c <= 'z' && k->name[*c - 'a'])
			append_word(out, MI_MAX_KEYWORDS_LEN + 1, k->name[*c - 'a'], strlen(k->name[*c - 'a']));
	}
	for (const char *p = keep ? keep : ""; *p;) {
		size_t n = strcspn(p, " ");
		if (n && slot_of(k, p, n) < 0)
			append_word(out, MI_MAX_KEYWORDS_LEN + 1, p, n);
		p += n;
		p += strspn(p, " ");
	}
	return out;
}
