/* Unit tests: thread ids shared by imapd and httpd (common/threadid.c): the
 * References/In-Reply-To assignment, stability once stored, forgetting, and
 * the one-time copy of the records httpd's journal held before. */
#include "common/threadid.h"
#include "common/map.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A message file "NAME" with these header lines; its EMAILID into id. */
static void message(const char *name, const char *hdr, char id[OBJECTID_LEN + 1])
{
	char *data = xasprintf("%sSubject: x\n\nbody\n", hdr);
	CHECK(check_put_file(".", ".", name, data) == 0);
	free(data);
	objectid_email(name, id);
}

static void thread_of(const char *name, const char *hdr, char t[OBJECTID_LEN + 1])
{
	char id[OBJECTID_LEN + 1];
	message(name, hdr, id);
	struct threadids s = { 0 };
	CHECK(threadid_get(&s, name, id, t));
	threadid_end(&s);
}

static void test_assign(void)
{
	char a[OBJECTID_LEN + 1], b[OBJECTID_LEN + 1], c[OBJECTID_LEN + 1], d[OBJECTID_LEN + 1];
	char ida[OBJECTID_LEN + 1];
	/* a reply that arrives before its original: they meet on the id */
	thread_of("m2", "Message-ID: <2@x>\nIn-Reply-To: <1@x>\nReferences: <1@x>\n", b);
	thread_of("m1", "Message-ID: <1@x>\n", a);
	thread_of("m3", "Message-ID: <3@x>\nReferences: <0@x> <1@x> <2@x>\n", c);
	thread_of("m4", "Message-ID: <4@x>\n", d);
	CHECK(objectid_valid(a, 'T') && !strcmp(a, b) && !strcmp(a, c));
	CHECK(strcmp(a, d) != 0);
	/* stored: the same answer without the file, and nothing new assigned */
	objectid_email("m1", ida);
	unlink("m1");
	struct threadids s = { 0 };
	char again[OBJECTID_LEN + 1];
	CHECK(threadid_known(&s, ida, again) && !strcmp(again, a));
	CHECK(s.w == NULL);	/* a known id needs no writer */
	/* an unreadable message is a thread of its own */
	char lost[OBJECTID_LEN + 1], lid[OBJECTID_LEN + 1];
	objectid_email("gone", lid);
	CHECK(threadid_get(&s, "gone", lid, lost) && lost[0] == 'T' && !strcmp(lost + 1, lid + 1));
	threadid_forget(&s, ida);
	threadid_end(&s);
	CHECK(!threadid_known(&s, ida, again));
}

/* Records of an older tern-jmap.db are copied once and win over nothing
 * newer; later changes to the old file are not read again. */
static void test_migrate(void)
{
	char *dir = xasprintf("%s/mig", check_tmpdir());
	CHECK(mkdir(dir, 0700) == 0 && chdir(dir) == 0);
	map_read_cache_clear();	/* its handles are of the other directory */
	struct map *old = map_open(THREADID_OLD_DB, MAP_WRITE);
	CHECK(old != NULL);
	map_put(old, "HE000000000000000000000001", "T000000000000000000000001", 25);
	map_put(old, "m1@old", "T000000000000000000000001", 25);
	map_put(old, "N", "{}", 2);
	map_close(old);
	threadid_migrate(NULL);
	struct threadids s = { 0 };
	char t[OBJECTID_LEN + 1];
	CHECK(threadid_known(&s, "E000000000000000000000001", t));
	CHECK_STR(t, "T000000000000000000000001");
	/* a reply to the old message joins its thread (the "m" record came) */
	thread_of("r1", "Message-ID: <r@x>\nIn-Reply-To: <1@old>\n", t);
	CHECK_STR(t, "T000000000000000000000001");
	old = map_open(THREADID_OLD_DB, MAP_WRITE);
	map_put(old, "HE000000000000000000000002", "T000000000000000000000002", 25);
	map_close(old);
	threadid_migrate(NULL);
	CHECK(!threadid_known(&s, "E000000000000000000000002", t));
	threadid_end(&s);
	map_read_cache_clear();
	free(dir);
}

int main(void)
{
	CHECK(chdir(check_tmpdir()) == 0);
	test_assign();
	test_migrate();
	return check_summary("common_threadid");
}
