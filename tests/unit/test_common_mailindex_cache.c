/* Unit tests: what the folder index caches per message beyond flags —
 * the IMAP structures and their upgrade when tern renders them differently. */
#include "common/mailindex.h"
#include "common/mailstore.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <db.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* A new folder CHECK_TMPDIR/name holding the one message text. */
static struct mi *folder_with(const char *name, const char *text, char **dir)
{
	char why[256];
	*dir = xasprintf("%s/%s", check_tmpdir(), name);
	CHECK(ms_ensure_maildir(*dir, false) == 0);
	struct mi *mi = mi_open(*dir, NULL, NULL, why, sizeof why);
	int fd = memfd_create("msg", 0);
	write_all(fd, text, strlen(text));
	uint32_t uid;
	CHECK(mi && mi_add_fd(mi, fd, 0, "", 1700000000, &uid) == 0 && uid == 1);
	close(fd);
	return mi;
}

/* Overwrite uid 1's cached structures as an older tern wrote them (no
 * version byte, the ENVELOPE first). */
static void put_old_record(const char *dir, const char *value, size_t len)
{
	DB *db;
	char *path = xasprintf("%s/tern-index.db", dir);
	CHECK(db_create(&db, NULL, 0) == 0);
	CHECK(db->open(db, NULL, path, NULL, DB_BTREE, 0, 0600) == 0);
	unsigned char k[5] = { 'C', 0, 0, 0, 1 };
	DBT dk = { .data = k, .size = 5 }, dv = { .data = (void *)value, .size = (u_int32_t)len };
	CHECK(db->put(db, NULL, &dk, &dv, 0) == 0);
	db->close(db, 0);
	free(path);
}

/* A record written before the address parser knew comments as display names
 * is rebuilt from the file on first use, not served stale. */
static void test_stale_structures_rebuilt(void)
{
	char why[256], *dir;
	struct mi *mi = folder_with("Stale", "From: user@domain (Real Name)\r\n\r\nx\r\n", &dir);
	char *env = mi_cached(mi, 1, 'E');
	CHECK(env && strstr(env, "((\"Real Name\" NIL \"user\" \"domain\"))"));
	free(env);
	mi_close(mi);
	static const char old[] = "(NIL NIL ((NIL NIL \"user\" \"domain\")) NIL NIL NIL NIL NIL NIL NIL)\0"
				  "(\"text\" \"plain\")\0(\"text\" \"plain\")";
	put_old_record(dir, old, sizeof old);
	mi = mi_open(dir, NULL, NULL, why, sizeof why);
	env = mi_cached(mi, 1, 'E');
	CHECK(env && strstr(env, "((\"Real Name\" NIL \"user\" \"domain\"))"));
	char *bs = mi_cached(mi, 1, 'S');
	CHECK(bs && strstr(bs, "\"7BIT\" 3 1"));
	free(env);
	free(bs);
	mi_close(mi);
	free(dir);
}

/* MOVE's hard link keeps the unique name (and so the EMAILID); a name the
 * target knows already is refused, so the caller copies instead. */
static void test_add_link_keeps_the_name(void)
{
	char why[256], *src_dir, *dst_dir;
	struct mi *src = folder_with("LinkSrc", "Subject: moved\r\n\r\nx\r\n", &src_dir);
	struct mi_rec r;
	CHECK(mi_get(src, 1, &r) == 1);
	char *path = mi_path(src, &r);
	mi_close(src);
	dst_dir = xasprintf("%s/LinkDst", check_tmpdir());
	CHECK(ms_ensure_maildir(dst_dir, false) == 0);
	struct mi *dst = mi_open(dst_dir, NULL, NULL, why, sizeof why);
	uint32_t uid = 0;
	CHECK(dst && mi_add_link(dst, path, MI_SEEN, "$x", 1700000000, &uid) == 0 && uid == 1);
	struct mi_rec d;
	CHECK(mi_get(dst, uid, &d) == 1);
	size_t base = strcspn(r.file, ":");
	CHECK(!strncmp(d.file, r.file, base) && d.file[base] == ':' && strstr(d.file, ":2,S"));
	CHECK(!strcmp(d.keywords, "$x"));
	char *env = mi_cached(dst, uid, 'E');
	CHECK(env && strstr(env, "\"moved\""));
	free(env);
	CHECK(mi_add_link(dst, path, 0, "", 1700000000, &uid) == -1);	/* known here already */
	CHECK(mi_add_link(dst, "/nonexistent/cur/1.x", 0, "", 1700000000, &uid) == -1);
	mi_rec_clear(&d);
	mi_close(dst);
	mi_rec_clear(&r);
	free(path);
	free(src_dir);
	free(dst_dir);
}

int main(void)
{
	test_stale_structures_rebuilt();
	test_add_link_keeps_the_name();
	return check_summary("mailindex_cache");
}
