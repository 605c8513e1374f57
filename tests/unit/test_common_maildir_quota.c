/* The one Maildir++ usage count (maildir_quota.h): what it counts, and that
 * its maildirsize cache follows changes made by writers that do not append to
 * it (IMAP APPEND/EXPUNGE, POP3 DELE). */
#include "common/maildir_quota.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char *base;

static void put(const char *sub, const char *name, const char *data)
{
	CHECK(check_put_file(base, sub, name, data) == 0);
}

/* File times come from a clock that ticks every few ms: let one pass, so a
 * change lands after the cache's last write as it does between sessions. */
static void tick(void)
{
	nanosleep(&(struct timespec){ 0, 30 * 1000 * 1000 }, NULL);
}

static uint64_t cache_sum(void)
{
	char *p = xasprintf("%s/maildirsize", base);
	FILE *f = fopen(p, "r");
	free(p);
	uint64_t sum = 0;
	char line[128];
	for (int i = 0; f && fgets(line, sizeof line, f); i++)
		if (i)
			sum += strtoull(line, NULL, 10);
	if (f)
		fclose(f);
	return sum;
}

int main(void)
{
	base = xasprintf("%s/alice", check_tmpdir());
	static const char *const dirs[] = { "new", "cur", "tmp", ".Work/new", ".Work/cur", ".Work/tmp",
					    "..bad/new", "nodot/cur" };
	for (size_t i = 0; i < ARRAY_LEN(dirs); i++) {
		char *d = xasprintf("%s/%s", base, dirs[i]);
		CHECK(mkdir_p(d, 0700) == 0);
		free(d);
	}
	put("new", "1.a,S=100,W=104", "the name's size counts, not this");	/* 100 */
	put("cur", "2.b:2,S", "0123456789");					/* 10 */
	put(".Work/new", "3.c", "12345");					/* 5 */
	put(".Work/cur", "4.d,S=7:2,", "1234567");				/* 7 */
	put("tmp", "5.e", "not yet a message");
	put("..bad/new", "6.f", "not a folder");
	put("nodot/cur", "7.g", "not a folder");
	char *link = xasprintf("%s/cur/8.h", base);
	CHECK(symlink("/etc/passwd", link) == 0);
	free(link);
	CHECK(mdq_count(base) == 122);

	/* the cache: written on first use, appended by delivery */
	CHECK(mdq_usage(base, 1000) == 122);
	CHECK(cache_sum() == 122);
	put("new", "9.i,S=20", "x");
	mdq_add(base, 20);
	CHECK(mdq_usage(base, 1000) == 142);
	CHECK(cache_sum() == 142);	/* read from the cache, not recounted */
	CHECK(mdq_usage(base, 2000) == 142);	/* another quota: recounted */

	/* a writer that does not append (an IMAP APPEND into a folder) */
	tick();
	put(".Work/cur", "10.j", "abc");
	CHECK(mdq_usage(base, 2000) == 145);
	/* a deletion (EXPUNGE, DELE) */
	tick();
	char *gone = xasprintf("%s/new/1.a,S=100,W=104", base);
	CHECK(unlink(gone) == 0);
	free(gone);
	CHECK(mdq_usage(base, 2000) == 45);
	CHECK(cache_sum() == 45);
	/* a folder deleted whole */
	tick();
	char *cmd = xasprintf("rm -rf '%s/.Work'", base);
	CHECK(system(cmd) == 0);
	free(cmd);
	CHECK(mdq_usage(base, 2000) == 30);
	/* no maildirsize: mdq_add writes nothing, the next use counts */
	char *ms = xasprintf("%s/maildirsize", base);
	CHECK(unlink(ms) == 0);
	mdq_add(base, 5);
	struct stat st;
	CHECK(stat(ms, &st) < 0);
	free(ms);
	CHECK(mdq_usage(base, 2000) == 30);
	free(base);
	return check_summary("maildir_quota");
}
