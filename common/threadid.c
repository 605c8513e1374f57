/* threadid.c — thread ids by Message-ID references, shared by imapd and
 * httpd (see threadid.h). */
#include "common/threadid.h"
#include "common/log.h"
#include "common/map.h"
#include "common/mime.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *thread_read_header(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	char *buf = xmalloc(THREAD_HDR_MAX + 1);
	ssize_t n = pread(fd, buf, THREAD_HDR_MAX, 0);
	close(fd);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	/* the header ends at the first empty line */
	size_t end = (size_t)n;
	for (size_t i = 0; i + 1 < (size_t)n; i++)
		if (buf[i] == '\n' && (buf[i + 1] == '\n' || (buf[i + 1] == '\r' && i + 2 < (size_t)n &&
							      buf[i + 2] == '\n'))) {
			end = i + 1;
			break;
		}
	char *crlf = mime_to_crlf(buf, end, len);
	free(buf);
	return crlf;
}

/* The "<...>" ids of a header value, in order; *n set (at most max). */
static char **msg_ids(const char *v, size_t max, size_t *n)
{
	char **out = NULL;
	*n = 0;
	while (v && *n < max && (v = strchr(v, '<'))) {
		const char *end = strchr(v, '>');
		if (!end)
			break;
		size_t len = (size_t)(end - v - 1);
		if (len > 0 && len < 250 && !memchr(v + 1, ' ', len)) {
			out = xrealloc(out, (*n + 1) * sizeof *out);
			out[(*n)++] = xstrndup(v + 1, len);
		}
		v = end + 1;
	}
	return out;
}

static void free_ids(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

/* ---- the store ---- */

static char *rec_get(struct map *m, const char *prefix, const char *id)
{
	char *key = xasprintf("%s%s", prefix, id), *v = NULL;
	size_t n;
	int r = map_get(m, key, &v, &n);
	free(key);
	return r == 1 ? v : NULL;
}

static void rec_put(struct map *m, const char *prefix, const char *id, const char *val)
{
	char *key = xasprintf("%s%s", prefix, id);
	if (map_put(m, key, val, strlen(val)) < 0)
		log_err("threads: cannot write %s to %s", key, THREADID_DB);
	free(key);
}

/* Remember that Message-ID id is of thread t, unless it already names one. */
static void remember(struct map *m, const char *id, const char *t)
{
	char *v = rec_get(m, "m", id);
	if (!v)
		rec_put(m, "m", id, t);
	free(v);
}

/* The thread of the first of ids (n of them) that has one; NULL if none. */
static char *first_known(struct map *m, char **ids, size_t n)
{
	char *found = NULL;
	for (size_t k = 0; !found && k < n; k++)
		found = rec_get(m, "m", ids[k]);
	return found;
}

/* Decide emailid's thread from the header of path and store it ("H"). */
static void assign(struct map *m, const char *path, const char *emailid, char out[OBJECTID_LEN + 1])
{
	snprintf(out, OBJECTID_LEN + 1, "T%s", emailid + 1);
	size_t len;
	char *hdr = thread_read_header(path, &len);
	if (hdr) {
		char *v[3] = { mime_header_get(hdr, len, "References"),
			       mime_header_get(hdr, len, "In-Reply-To"),
			       mime_header_get(hdr, len, "Message-ID") };
		size_t n[3];
		char **ids[3] = { msg_ids(v[0], THREAD_REFS_MAX, &n[0]), msg_ids(v[1], 1, &n[1]),
				  msg_ids(v[2], 1, &n[2]) };
		/* the Message-ID last: a reply that came first named it */
		char *found = NULL;
		for (int k = 0; k < 3 && !found; k++)
			found = first_known(m, ids[k], n[k]);
		if (found && objectid_valid(found, 'T'))
			strlcpy_t(out, found, OBJECTID_LEN + 1);
		for (int k = 0; k < 3; k++) {
			for (size_t i = 0; i < n[k]; i++)
				remember(m, ids[k][i], out);
			free_ids(ids[k], n[k]);
			free(v[k]);
		}
		free(found);
		free(hdr);
	}
	rec_put(m, "H", emailid, out);
}

static bool open_writer(struct threadids *t)
{
	if (t->w)
		return true;
	t->w = map_open(THREADID_DB, MAP_WRITE);
	if (!t->w && !t->failed) {
		log_err("threads: cannot open %s: %s", THREADID_DB, strerror(errno));
		t->failed = true;
	}
	return t->w != NULL;
}

/* The "H" record of emailid, from the writer if open, else a cached reader. */
static char *lookup(struct threadids *t, const char *emailid)
{
	if (t->w)
		return rec_get(t->w, "H", emailid);
	struct map *r = map_read_begin(THREADID_DB);
	if (!r)
		return NULL;
	char *v = rec_get(r, "H", emailid);
	map_read_end(r);
	return v;
}

bool threadid_known(struct threadids *t, const char *emailid, char out[OBJECTID_LEN + 1])
{
	char *v = lookup(t, emailid);
	bool ok = v && objectid_valid(v, 'T');
	if (ok)
		strlcpy_t(out, v, OBJECTID_LEN + 1);
	free(v);
	return ok;
}

bool threadid_get(struct threadids *t, const char *path, const char *emailid,
		  char out[OBJECTID_LEN + 1])
{
	if (threadid_known(t, emailid, out))
		return true;
	/* a writer, then look again: another process may have assigned it */
	if (!open_writer(t))
		return false;
	if (!threadid_known(t, emailid, out))
		assign(t->w, path, emailid, out);
	return true;
}

void threadid_forget(struct threadids *t, const char *emailid)
{
	if (!open_writer(t))
		return;
	char *key = xasprintf("H%s", emailid);
	map_del(t->w, key);
	free(key);
}

void threadid_end(struct threadids *t)
{
	if (t->w && map_close(t->w) < 0)
		log_err("threads: cannot write %s: %s", THREADID_DB, strerror(errno));
	t->w = NULL;
}

/* ---- moving the records out of httpd's journal ---- */

static int copy_rec(const char *key, const char *val, size_t vlen, void *arg)
{
	struct map *w = arg;
	char *have = NULL;
	size_t n;
	if (map_get(w, key, &have, &n) != 1)
		map_put(w, key, val, vlen);
	free(have);
	return 0;
}

static bool migrated(void)
{
	struct map *r = map_read_begin(THREADID_DB);
	if (!r)
		return false;
	char *v = rec_get(r, "V", "");
	map_read_end(r);
	bool done = v != NULL;
	free(v);
	return done;
}

void threadid_migrate(struct map *old)
{
	if (migrated())
		return;
	struct threadids t = { 0 };
	if (!open_writer(&t))
		return;
	char *v = rec_get(t.w, "V", "");
	if (!v) {
		struct map *o = old ? old : map_open(THREADID_OLD_DB, MAP_READ);
		if (o) {
			map_each_prefix(o, "H", copy_rec, t.w);
			map_each_prefix(o, "m", copy_rec, t.w);
		}
		if (o && !old)
			map_close(o);
		rec_put(t.w, "V", "", "1");
	}
	free(v);
	threadid_end(&t);
}
