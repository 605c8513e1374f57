/* threading.c — thread assignment by Message-ID references (see
 * threading.h). */
#include "httpd/threading.h"
#include "httpd/journal.h"
#include "common/mime.h"
#include "common/util.h"

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

static char *thread_of_id(struct journal *j, const char *id)
{
	char *key = xasprintf("m%s", id);
	char *t = journal_get(j, key);
	free(key);
	return t;
}

static void remember(struct journal *j, const char *id, const char *t)
{
	char *key = xasprintf("m%s", id);
	char *v = journal_get(j, key);
	if (!v)
		journal_put(j, key, t);
	free(v);
	free(key);
}

void thread_assign(struct journal *j, const char *path, const char *emailid,
		   char out[OBJECTID_LEN + 1])
{
	snprintf(out, OBJECTID_LEN + 1, "T%s", emailid + 1);
	size_t len;
	char *hdr = thread_read_header(path, &len);
	if (!hdr)
		return;
	char *refs = mime_header_get(hdr, len, "References");
	char *irt = mime_header_get(hdr, len, "In-Reply-To");
	char *mid = mime_header_get(hdr, len, "Message-ID");
	size_t nr, ni, nm;
	char **r = msg_ids(refs, THREAD_REFS_MAX, &nr), **i = msg_ids(irt, 1, &ni);
	char **m = msg_ids(mid, 1, &nm);
	char *found = NULL;
	for (size_t k = 0; !found && k < nr; k++)
		found = thread_of_id(j, r[k]);
	if (!found && ni)
		found = thread_of_id(j, i[0]);
	if (!found && nm)
		found = thread_of_id(j, m[0]);	/* a reply that came first named it */
	if (found && objectid_valid(found, 'T'))
		strlcpy_t(out, found, OBJECTID_LEN + 1);
	for (size_t k = 0; k < nr; k++)
		remember(j, r[k], out);
	if (ni)
		remember(j, i[0], out);
	if (nm)
		remember(j, m[0], out);
	free(found);
	free_ids(r, nr);
	free_ids(i, ni);
	free_ids(m, nm);
	free(refs);
	free(irt);
	free(mid);
	free(hdr);
}
