/* Unit tests: the folder index kept in step with a Maildir. */
#include "common/mailindex.h"
#include "common/mailstore.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *dir;

static void put_new(const char *name, const char *data)
{
	char *p = xasprintf("%s/new/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	write_all(fd, data, strlen(data));
	close(fd);
	free(p);
}

static char *cur_name(void)
{
	char *cd = xasprintf("%s/cur", dir);
	DIR *d = opendir(cd);
	struct dirent *e;
	char *r = NULL;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.' && !r)
			r = xstrdup(e->d_name);
	closedir(d);
	free(cd);
	return r;
}

int main(void)
{
	char why[256];
	dir = xasprintf("%s/Maildir", check_tmpdir());
	CHECK(ms_ensure_maildir(dir, false) == 0);
	put_new("1000.a,S=20,W=22", "Subject: one\n\nbody\n");
	put_new("1001.b,S=20,W=22", "Subject: two\n\nbody\n");
	uint32_t *fresh;
	size_t nfresh;
	struct mi *mi = mi_open(dir, &fresh, &nfresh, why, sizeof why);
	CHECK(mi != NULL);
	CHECK(nfresh == 2);
	free(fresh);
	uint32_t uv = mi_header(mi)->uidvalidity;
	CHECK(mi_header(mi)->uidnext == 3 && mi_header(mi)->count == 2);
	struct mi_rec *recs;
	size_t n;
	mi_load(mi, &recs, &n);
	CHECK(n == 2 && recs[0].uid == 1 && recs[0].size == 22);
	char *env = mi_cached(mi, 1, 'E');
	CHECK(env && strstr(env, "\"one\""));
	free(env);
	CHECK(mi_set_flags(mi, 1, MI_SEEN | MI_FLAGGED, "$Work") == 0);
	mi_recs_free(recs, n);
	mi_close(mi);

	/* another Maildir tool changes flags and deletes a file */
	mi = mi_open(dir, NULL, NULL, why, sizeof why);
	struct mi_rec r;
	CHECK(mi_get(mi, 1, &r) == 1 && r.flags == (MI_SEEN | MI_FLAGGED) && !strcmp(r.keywords, "$Work"));
	CHECK(strstr(r.file, ":2,FS") != NULL);
	char *from = mi_path(mi, &r);
	mi_rec_clear(&r);
	CHECK(mi_get(mi, 2, &r) == 1);
	char *gone = mi_path(mi, &r);
	mi_rec_clear(&r);
	mi_close(mi);
	char *to = xasprintf("%s/cur/1000.a,S=20,W=22:2,RS", dir);
	CHECK(rename(from, to) == 0);
	CHECK(unlink(gone) == 0);
	mi = mi_open(dir, NULL, NULL, why, sizeof why);
	CHECK(mi_get(mi, 1, &r) == 1 && r.flags == (MI_SEEN | MI_ANSWERED));
	mi_rec_clear(&r);
	CHECK(mi_get(mi, 2, &r) == 0);
	CHECK(mi_header(mi)->count == 1 && mi_header(mi)->uidvalidity == uv);
	mi_close(mi);

	/* a corrupt index is rebuilt from the files */
	char *db = xasprintf("%s/tern-index.db", dir);
	int fd = open(db, O_WRONLY | O_TRUNC);
	write_all(fd, "garbage", 7);
	close(fd);
	mi = mi_open(dir, NULL, NULL, why, sizeof why);
	CHECK(mi != NULL && mi_header(mi)->count == 1);
	mi_load(mi, &recs, &n);
	CHECK(n == 1 && recs[0].flags == (MI_SEEN | MI_ANSWERED));
	mi_recs_free(recs, n);
	mi_close(mi);
	char *name = cur_name();
	CHECK(name && !strcmp(name, "1000.a,S=20,W=22:2,RS"));
	free(name);

	/* keywords go into the file name as Dovecot's letters and survive a rebuild */
	mi = mi_open(dir, NULL, NULL, why, sizeof why);
	CHECK(mi_set_flags(mi, 1, MI_SEEN, "$Work Later") == 0);
	mi_close(mi);
	name = cur_name();
	CHECK(name && !strcmp(name, "1000.a,S=20,W=22:2,Sab"));
	free(name);
	char *kwf = xasprintf("%s/dovecot-keywords", dir);
	char kbuf[128] = "";
	fd = open(kwf, O_RDONLY);
	CHECK(fd >= 0 && read(fd, kbuf, sizeof kbuf - 1) > 0);
	close(fd);
	CHECK_STR(kbuf, "0 $Work\n1 Later\n");
	CHECK(mi_drop(dir) == 0);
	mi = mi_open(dir, NULL, NULL, why, sizeof why);
	CHECK(mi_get(mi, 1, &r) == 1 && !strcmp(r.keywords, "$Work Later") && r.flags == MI_SEEN);
	mi_rec_clear(&r);
	/* another tool drops letter a; keyword slots are reused case-insensitively */
	mi_close(mi);
	char *from2 = xasprintf("%s/cur/1000.a,S=20,W=22:2,Sab", dir);
	char *to2 = xasprintf("%s/cur/1000.a,S=20,W=22:2,Sb", dir);
	CHECK(rename(from2, to2) == 0);
	free(from2);
	free(to2);
	mi = mi_open(dir, NULL, NULL, why, sizeof why);
	CHECK(mi_get(mi, 1, &r) == 1 && !strcmp(r.keywords, "Later"));
	mi_rec_clear(&r);
	CHECK(mi_set_flags(mi, 1, MI_SEEN, "later $work Third") == 0);
	CHECK(mi_get(mi, 1, &r) == 1 && strstr(r.file, ":2,Sabc") != NULL);
	mi_rec_clear(&r);
	mi_close(mi);
	free(kwf);
	free(db);
	free(from);
	free(to);
	free(gone);
	free(dir);
	return check_summary("mailindex");
}
