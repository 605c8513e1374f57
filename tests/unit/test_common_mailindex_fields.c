/* The index's cached header fields for SEARCH (mailindex.h, mi_fields_*). */
#include "common/mailindex.h"
#include "common/mailstore.h"
#include "common/mime_stream.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <event2/buffer.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *dir;

static void put_new(const char *name, const char *data)
{
	CHECK(check_put_file(dir, "new", name, data) == 0);
}

/* The record as "name=value;" pairs, for comparing. */
static char *flat(const char *rec, size_t len)
{
	char *out = xstrdup("");
	const char *p = rec + MI_FIELDS_HDR, *name, *value;
	while (mi_fields_next(&p, rec + len, &name, &value)) {
		char *n = xasprintf("%s%s=%s;", out, name, value);
		free(out);
		out = n;
	}
	return out;
}

/* The ENVELOPE cached by the walk that also built the field record: the
 * same as mime_envelope's own walk gives (first occurrences, Sender and
 * Reply-To from From), also past a record given up as too large. */
static void check_one_walk(struct mi *mi)
{
	char *e1 = mi_cached(mi, 1, 'E');
	CHECK_STR(e1, "(\"=?us-ascii?q?Mon?=, 2 Mar 2026\" \"hi\" ((\"=?utf-8?q?J=C3=BCrgen?=\" NIL \"j\" \"x.test\")) "
		      "((\"=?utf-8?q?J=C3=BCrgen?=\" NIL \"j\" \"x.test\")) "
		      "((\"=?utf-8?q?J=C3=BCrgen?=\" NIL \"j\" \"x.test\")) "
		      "((NIL NIL \"a\" \"x.test\")(NIL NIL \"b\" \"y.test\")) NIL NIL NIL NIL)");
	char *e5 = mi_cached(mi, 5, 'E');
	CHECK(e5 && strstr(e5, "((\"Late\" NIL \"late\" \"x.test\")) ((\"Late\"") &&
	      strstr(e5, "((NIL NIL \"a\" \"x.test\")) NIL NIL NIL NIL)"));
	char *path = xasprintf("%s/cur/1000.a:2,", dir);
	int fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	struct mime_msg *m = fd >= 0 ? mime_parse_fd(fd, 1 << 20, NULL) : NULL;
	struct evbuffer *b = evbuffer_new();
	if (m)
		mime_envelope(m, m->root, b);
	evbuffer_add(b, "", 1);
	CHECK_STR(e1, (const char *)evbuffer_pullup(b, -1));
	evbuffer_free(b);
	mime_stream_free(m);
	if (fd >= 0)
		close(fd);
	free(path);
	free(e1);
	free(e5);
}

int main(void)
{
	char why[256];
	dir = xasprintf("%s/Maildir", check_tmpdir());
	CHECK(ms_ensure_maildir(dir, false) == 0);
	put_new("1000.a", "From: =?utf-8?q?J=C3=BCrgen?= <j@x.test>\nTo: a@x.test,\n b@y.test\n"
			  "X-Not: cached\nSubject: hi\nTo: c@z.test\n"
			  "Date: =?us-ascii?q?Mon?=, 2 Mar 2026\n\nbody\n");
	char *big = xmalloc(MI_FIELDS_MAX + 64);
	memcpy(big, "Subject: ", 9);
	memset(big + 9, 'x', MI_FIELDS_MAX);
	strcpy(big + 9 + MI_FIELDS_MAX, "\n\nbody\n");
	put_new("1001.b", big);
	free(big);
	put_new("1002.c", "subject: three\nDATE: Tue, 3 Mar 2026 10:00:00 +0000\n\nbody\n");
	put_new("1003.d", "no header\n");
	/* over MI_FIELDS_MAX before its From: the record's walk is the
	 * ENVELOPE's too, and must go on for it */
	big = xmalloc(MI_FIELDS_MAX + 256);
	memcpy(big, "To: a@x.test\nSubject: ", 22);
	memset(big + 22, 'y', MI_FIELDS_MAX);
	strcpy(big + 22 + MI_FIELDS_MAX, "\nFrom: Late <late@x.test>\nTo: b@x.test\n\nbody\n");
	put_new("1004.e", big);
	free(big);

	CHECK(mi_field_cached("SUBJECT") && mi_field_cached("in-reply-to") && mi_field_cached("Bcc"));
	CHECK(!mi_field_cached("X-Not") && !mi_field_cached("received") && !mi_field_cached(""));

	struct mi *mi = mi_open(dir, NULL, NULL, why, sizeof why);
	CHECK(mi != NULL && mi_header(mi)->count == 5);
	struct mi_fcur *c = mi_fields_open(mi);
	size_t len;
	const char *rec = mi_fields_get(c, 1, &len);
	CHECK(rec != NULL && rec[0] == MI_FIELDS_V && (rec[1] & MI_FIELDS_DATE_ENC));
	char *f = rec ? flat(rec, len) : NULL;
	/* address fields also as "@name": the parsed list written back */
	CHECK_STR(f, "from=J\xc3\xbcrgen <j@x.test>;@from=J\xc3\xbcrgen <j@x.test>;"
		     "to=a@x.test, b@y.test;@to=<a@x.test>, <b@y.test>;subject=hi;"
		     "to=c@z.test;@to=<c@z.test>;date=Mon, 2 Mar 2026;");
	free(f);
	CHECK(mi_fields_get(c, 2, &len) == NULL);	/* over MI_FIELDS_MAX: no record */
	rec = mi_fields_get(c, 3, &len);
	CHECK(rec != NULL && rec[1] == 0);
	f = rec ? flat(rec, len) : NULL;
	CHECK_STR(f, "subject=three;date=Tue, 3 Mar 2026 10:00:00 +0000;");
	free(f);
	rec = mi_fields_get(c, 4, &len);
	CHECK(rec != NULL && len == MI_FIELDS_HDR);	/* a record with no field */
	CHECK(mi_fields_get(c, 5, &len) == NULL);
	CHECK(mi_fields_get(c, 6, &len) == NULL);
	mi_fields_close(c);
	check_one_walk(mi);

	/* a cursor that starts past a gap, and an expunged message's record */
	CHECK(mi_expunge(mi, 3) == 0);
	c = mi_fields_open(mi);
	CHECK(mi_fields_get(c, 3, &len) == NULL);
	CHECK(mi_fields_get(c, 4, &len) != NULL);
	mi_fields_close(c);

	/* a record stored later (a search backfilling an older index) */
	static const char rec2[] = { MI_FIELDS_V, 0, 's', 'u', 'b', 'j', 'e', 'c', 't', 0, 'x', 0 };
	CHECK(mi_fields_put(mi, 2, rec2, sizeof rec2) == 0);
	c = mi_fields_open(mi);
	rec = mi_fields_get(c, 2, &len);
	CHECK(rec != NULL && len == sizeof rec2 && !memcmp(rec, rec2, len));
	mi_fields_close(c);
	/* a malformed record ends the pairs */
	const char bad[] = { MI_FIELDS_V, 0, 'a', 0, 'b' };
	const char *p = bad + MI_FIELDS_HDR, *name, *value;
	CHECK(!mi_fields_next(&p, bad + sizeof bad, &name, &value));
	mi_close(mi);
	free(dir);
	return check_summary("mailindex_fields");
}
