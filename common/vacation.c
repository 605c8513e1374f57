/* vacation.c — the stored vacation response and its list of senders
 * answered (see vacation.h). */
#include "common/vacation.h"
#include "common/maildate.h"
#include "common/strbuf.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static char *path_of(const char *maildir, const char *name)
{
	return xasprintf("%s/%s", maildir, name);
}

json_t *vacation_read(const char *maildir)
{
	char *path = path_of(maildir, VACATION_FILE);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(path);
	if (fd < 0)
		return errno == ENOENT ? json_pack("{s:i, s:b, s:n, s:n, s:n, s:n, s:n}", "state", 0,
						   "isEnabled", 0, "fromDate", "toDate", "subject",
						   "textBody", "htmlBody") : NULL;
	struct stat st;
	json_t *o = NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size <= VACATION_MAX) {
		char *text = xmalloc((size_t)st.st_size + 1);
		if (read_full(fd, text, (size_t)st.st_size) == 0)
			o = json_loadb(text, (size_t)st.st_size, JSON_REJECT_DUPLICATES, NULL);
		free(text);
	}
	close(fd);
	if (o && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

int vacation_write(const char *maildir, json_t *obj)
{
	char *text = json_dumps(obj, JSON_COMPACT | JSON_SORT_KEYS);
	char *tmp = path_of(maildir, "." VACATION_FILE ".tmp");
	char *path = path_of(maildir, VACATION_FILE), *sent = path_of(maildir, VACATION_SENT_FILE);
	if (text && strlen(text) > VACATION_MAX) {
		/* what could not be read back is not written */
		free(text);
		text = NULL;
		errno = EFBIG;
	}
	int fd = text ? open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600) : -1;
	int r = fd < 0 ? -1 : write_all(fd, text, strlen(text));
	if (fd >= 0 && (close(fd) < 0 || r < 0 || rename(tmp, path) < 0))
		r = -1;
	if (fd >= 0 && r < 0)
		unlink(tmp);
	/* a new response goes to everyone again */
	if (r == 0 && unlink(sent) < 0 && errno != ENOENT)
		r = -1;
	free(text);
	free(tmp);
	free(path);
	free(sent);
	return r;
}

static const char *str_or_null(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* A UTCDate property: its time, 0 when null; false when malformed. */
static bool date_of(json_t *o, const char *key, int64_t *t)
{
	json_t *v = json_object_get(o, key);
	*t = 0;
	return !v || json_is_null(v) || (json_is_string(v) &&
					 maildate_parse_rfc3339(json_string_value(v), t));
}

bool vacation_active(const char *maildir, time_t now, struct vacation *v)
{
	memset(v, 0, sizeof *v);
	v->obj = vacation_read(maildir);
	if (!v->obj || !json_is_true(json_object_get(v->obj, "isEnabled")) ||
	    !date_of(v->obj, "fromDate", &v->from) || !date_of(v->obj, "toDate", &v->to) ||
	    (v->from && now < v->from) || (v->to && now >= v->to)) {
		vacation_free(v);
		return false;
	}
	v->subject = str_or_null(v->obj, "subject");
	v->text = str_or_null(v->obj, "textBody");
	v->html = str_or_null(v->obj, "htmlBody");
	return true;
}

void vacation_free(struct vacation *v)
{
	json_decref(v->obj);
	memset(v, 0, sizeof *v);
}

/* The lines of the list still within the period, without addr's; *seen
 * set when addr is among them. */
static void keep_recent(FILE *in, const char *addr, time_t now, struct strbuf *out, size_t *n,
			bool *seen)
{
	char line[1100];
	while (fgets(line, sizeof line, in)) {
		char *sp = strchr(line, ' '), *nl = strchr(line, '\n');
		long long t = strtoll(line, NULL, 10);
		if (!sp || !nl || t <= now - VACATION_PERIOD_S || t > now + 3600)
			continue;
		*nl = '\0';
		if (!strcasecmp(sp + 1, addr)) {
			*seen = true;
			*nl = '\n';
			continue;
		}
		*nl = '\n';
		strbuf_adds(out, line);
		(*n)++;
	}
}

bool vacation_sent_check(const char *maildir, const char *addr, time_t now)
{
	char *path = path_of(maildir, VACATION_SENT_FILE);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	free(path);
	if (fd < 0)
		return true;	/* cannot remember: better no reply than a flood */
	flock(fd, LOCK_EX);
	FILE *in = fdopen(dup(fd), "r");
	struct strbuf keep = { 0 };
	size_t n = 0;
	bool seen = false;
	if (in) {
		keep_recent(in, addr, now, &keep, &n, &seen);
		fclose(in);
	}
	if (!seen) {
		/* drop the oldest (first) lines past the limit */
		const char *p = keep.len ? keep.p : "";
		size_t plen = keep.len;
		for (const char *nl; n >= VACATION_SENT_MAX && (nl = memchr(p, '\n', plen)); n--) {
			plen -= (size_t)(nl + 1 - p);
			p = nl + 1;
		}
		char *rec = xasprintf("%lld %s\n", (long long)now, addr);
		if (ftruncate(fd, 0) < 0 || pwrite(fd, p, plen, 0) != (ssize_t)plen ||
		    pwrite(fd, rec, strlen(rec), (off_t)plen) != (ssize_t)strlen(rec))
			seen = true;	/* not remembered: do not answer */
		free(rec);
	}
	free(keep.p);
	close(fd);
	return seen;
}
