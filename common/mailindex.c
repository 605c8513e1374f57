/* mailindex.c — per-folder Berkeley DB index kept in step with the Maildir. */
#include "common/mailindex.h"
#include "common/mailindex_tomb.h"
#include "common/log.h"
#include "common/mailkeywords.h"
#include "common/mime.h"
#include "common/mime_addr.h"
#include "common/mime_stream.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "common/workahead.h"

#include <ctype.h>
#include <db.h>
#include <dirent.h>
#include <errno.h>
#include <event2/buffer.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define MI_VERSION	1
#define MI_DB		"tern-index.db"
#define MI_LOCK		"tern-index.lock"
#define MI_MAX_MSG	(1024ULL * 1024 * 1024)	/* larger files are indexed, not parsed */
/* First byte of a cached-structures record ('C'): bumped whenever tern renders
 * ENVELOPE or BODYSTRUCTURE differently, so records an older tern wrote are
 * rebuilt from the file when first asked for instead of served stale.
 * 2: addresses by mime_addr.h (comments as display names, routes, groups). */
#define MI_CACHE_V	'\002'
/* Page size of an index this version creates (an existing file keeps the
 * size it was made with: Berkeley DB reads it from the file). Indexing a
 * large folder appends to five key ranges at once, so most leaves are
 * split half full and the index of 100,000 messages took 44,000 4 KiB
 * pages, each one pwrite() at the first close and one pread() per page a
 * later FETCH reads: larger pages make four times fewer of both. */
#define MI_PAGE_SIZE	(16 * 1024)
/* Berkeley DB's page cache per handle: its default (256 KiB) is 16 such
 * pages, too few for the leaves of five key ranges and their parents while
 * indexing, so leaves were written out, read back and written again. */
#define MI_CACHE_BYTES	(2U * 1024 * 1024)

struct hdr_rec {
	uint32_t version, uidvalidity, uidnext, count;
	uint64_t modseq;
	int64_t cur_mtime, new_mtime;	/* nanoseconds */
	/* the first UID no IMAP session has yet seen as \Recent (RFC 3501
	 * 2.3.2); a header written before this field existed is that much
	 * shorter, and is read as "nothing is recent" */
	uint32_t first_recent, pad;
};
#define HDR_V1_SIZE offsetof(struct hdr_rec, first_recent)

struct mi {
	char *dir;
	int lockfd;
	DB *db;
	struct hdr_rec h;
	struct mi_header pub;
	bool dirty;		/* header needs writing */
	/* cur/ as this handle knows it: the mtime the index reflects, moved on by
	 * each change made through this handle; a change by anyone else (seen as
	 * an mtime we did not cause) makes the next open read the directory */
	int64_t cur_expect;
	bool cur_changed, cur_foreign;
	struct mkw kw;		/* keyword letters (dovecot-keywords), loaded on use */
	bool kw_loaded;
	struct mi_tombs tombs;	/* expunge records (mailindex_tomb.h) */
	bool wrote;		/* something was written through this handle */
};

/* ---- small DB helpers ---- */

static void dbt(DBT *d, const void *p, size_t n)
{
	memset(d, 0, sizeof *d);
	d->data = (void *)p;
	d->size = (u_int32_t)n;
}

static int db_put(struct mi *mi, const void *k, size_t kl, const void *v, size_t vl)
{
	DBT dk, dv;
	dbt(&dk, k, kl);
	dbt(&dv, v, vl);
	mi->wrote = true;
	return mi->db->put(mi->db, NULL, &dk, &dv, 0) == 0 ? 0 : -1;
}

/* 1 found (*v malloc'd), 0 not, -1 error */
static int db_get(struct mi *mi, const void *k, size_t kl, void **v, size_t *vl)
{
	DBT dk, dv;
	dbt(&dk, k, kl);
	memset(&dv, 0, sizeof dv);
	dv.flags = DB_DBT_MALLOC;
	int r = mi->db->get(mi->db, NULL, &dk, &dv, 0);
	if (r == DB_NOTFOUND)
		return 0;
	if (r)
		return -1;
	*v = dv.data;
	*vl = dv.size;
	return 1;
}

static void db_del(struct mi *mi, const void *k, size_t kl)
{
	DBT dk;
	dbt(&dk, k, kl);
	mi->wrote = true;
	mi->db->del(mi->db, NULL, &dk, 0);
}

static void uid_key(unsigned char k[5], char tag, uint32_t uid)
{
	k[0] = (unsigned char)tag;
	k[1] = (unsigned char)(uid >> 24);
	k[2] = (unsigned char)(uid >> 16);
	k[3] = (unsigned char)(uid >> 8);
	k[4] = (unsigned char)uid;
}

/* "B" + base name -> uid */
static char *base_key(const char *file, size_t *kl)
{
	const char *colon = strstr(file, ":2,");
	size_t bl = colon ? (size_t)(colon - file) : strlen(file);
	char *k = xmalloc(bl + 2);
	k[0] = 'B';
	memcpy(k + 1, file, bl);
	k[bl + 1] = '\0';
	*kl = bl + 1;
	return k;
}

/* ---- record encoding: fixed part then file\0keywords\0, then the save
 * date (8 octets) and \0; a record written before the save date was kept
 * ends after the keywords (and still ends in \0 either way) ---- */

struct rec_fixed {
	uint64_t modseq, size;
	int64_t idate;
	uint32_t flags;
};
#define REC_SAVEDATE_LEN (sizeof(int64_t) + 1)

/* The change log: "M" + modseq (8 octets, big-endian) -> uid for the last
 * change of each message, so a session learns what changed since the MODSEQ
 * it knows without reading every record. "L" holds the MODSEQ from which the
 * log is complete (an index made before the log existed starts it late). */
static int cmp_uid(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static void mlog_key(unsigned char k[9], uint64_t modseq)
{
	k[0] = 'M';
	for (int i = 0; i < 8; i++)
		k[1 + i] = (unsigned char)(modseq >> (56 - 8 * i));
}

static void mlog_del(struct mi *mi, uint64_t modseq)
{
	unsigned char k[9];
	mlog_key(k, modseq);
	db_del(mi, k, 9);
}

/* An index without a log (new, or made before the log existed) starts one:
 * complete from the current MODSEQ on. */
static void mlog_begin(struct mi *mi)
{
	void *v;
	size_t vl;
	if (db_get(mi, "L", 1, &v, &vl) == 1) {
		free(v);
		return;
	}
	uint64_t start = mi->h.modseq;
	db_put(mi, "L", 1, &start, sizeof start);
}

/* Write r; old_modseq (0: none) is the change it replaces in the log. */
static int put_rec(struct mi *mi, const struct mi_rec *r, uint64_t old_modseq)
{
	size_t fl = strlen(r->file), kl = strlen(r->keywords ? r->keywords : "");
	size_t n = sizeof(struct rec_fixed) + fl + kl + 2;
	unsigned char *buf = xmalloc(n + REC_SAVEDATE_LEN);
	struct rec_fixed f = { r->modseq, r->size, r->idate, r->flags };
	memcpy(buf, &f, sizeof f);
	memcpy(buf + sizeof f, r->file, fl + 1);
	memcpy(buf + sizeof f + fl + 1, r->keywords ? r->keywords : "", kl + 1);
	if (r->savedate) {
		memcpy(buf + n, &r->savedate, sizeof r->savedate);
		buf[n + sizeof r->savedate] = '\0';
		n += REC_SAVEDATE_LEN;
	}
	unsigned char k[5];
	uid_key(k, 'U', r->uid);
	int rc = db_put(mi, k, 5, buf, n);
	free(buf);
	if (old_modseq && old_modseq != r->modseq)
		mlog_del(mi, old_modseq);
	unsigned char mk[9];
	mlog_key(mk, r->modseq);
	unsigned char uv[4] = { (unsigned char)(r->uid >> 24), (unsigned char)(r->uid >> 16),
				(unsigned char)(r->uid >> 8), (unsigned char)r->uid };
	if (db_put(mi, mk, 9, uv, 4) < 0)
		rc = -1;
	return rc;
}

static bool decode_rec(uint32_t uid, const unsigned char *v, size_t vl, struct mi_rec *out)
{
	struct rec_fixed f;
	if (vl < sizeof f + 2 || v[vl - 1] != '\0')
		return false;
	memcpy(&f, v, sizeof f);
	const char *file = (const char *)v + sizeof f;
	size_t fl = strnlen(file, vl - sizeof f);
	if (sizeof f + fl + 1 >= vl)
		return false;
	out->uid = uid;
	out->modseq = f.modseq;
	out->size = f.size;
	out->idate = f.idate;
	out->flags = f.flags;
	const char *kw = file + fl + 1;
	size_t rest = vl - sizeof f - fl - 1, kl = strnlen(kw, rest);
	out->savedate = 0;
	if (rest - kl - 1 == REC_SAVEDATE_LEN)
		memcpy(&out->savedate, kw + kl + 1, sizeof out->savedate);
	out->file = xstrdup(file);
	out->keywords = xstrdup(kw);
	return true;
}

void mi_rec_clear(struct mi_rec *r)
{
	free(r->file);
	free(r->keywords);
	r->file = r->keywords = NULL;
}

void mi_recs_free(struct mi_rec *recs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		mi_rec_clear(&recs[i]);
	free(recs);
}

int mi_get(struct mi *mi, uint32_t uid, struct mi_rec *out)
{
	unsigned char k[5];
	void *v;
	size_t vl;
	uid_key(k, 'U', uid);
	int r = db_get(mi, k, 5, &v, &vl);
	if (r <= 0)
		return r;
	bool ok = decode_rec(uid, v, vl, out);
	free(v);
	return ok ? 1 : -1;
}

size_t mi_count_from(struct mi *mi, uint32_t uid)
{
	DBC *c;
	DBT k, v;
	size_t n = 0;
	if (mi->db->cursor(mi->db, NULL, &c, 0) != 0)
		return 0;
	unsigned char start[5];
	uid_key(start, 'U', uid);
	dbt(&k, start, 5);
	memset(&v, 0, sizeof v);
	v.flags = DB_DBT_PARTIAL;	/* the keys are enough */
	int r = c->get(c, &k, &v, DB_SET_RANGE);
	while (r == 0 && k.size == 5 && ((unsigned char *)k.data)[0] == 'U') {
		n++;
		r = c->get(c, &k, &v, DB_NEXT);
	}
	c->close(c);
	return n;
}

int mi_load(struct mi *mi, struct mi_rec **recs, size_t *n)
{
	DBC *c;
	DBT k, v;
	size_t cap = mi->h.count + 16;
	*recs = xcalloc(cap, sizeof **recs);
	*n = 0;
	if (mi->db->cursor(mi->db, NULL, &c, 0) != 0)
		return -1;
	unsigned char start[5];
	uid_key(start, 'U', 0);
	dbt(&k, start, 5);
	memset(&v, 0, sizeof v);
	int r = c->get(c, &k, &v, DB_SET_RANGE);
	while (r == 0 && k.size == 5 && ((unsigned char *)k.data)[0] == 'U') {
		const unsigned char *kd = k.data;
		uint32_t uid = (uint32_t)kd[1] << 24 | (uint32_t)kd[2] << 16 | (uint32_t)kd[3] << 8 | kd[4];
		if (*n == cap) {
			cap *= 2;
			*recs = xrealloc(*recs, cap * sizeof **recs);
		}
		if (decode_rec(uid, v.data, v.size, &(*recs)[*n]))
			(*n)++;
		r = c->get(c, &k, &v, DB_NEXT);
	}
	c->close(c);
	return 0;
}

/* ---- flags in file names ---- */

uint32_t mi_flags_from_name(const char *file)
{
	const char *info = strstr(file, ":2,");
	uint32_t f = 0;
	if (!info)
		return 0;
	for (const char *p = info + 3; *p; p++) {
		switch (*p) {
		case 'D': f |= MI_DRAFT; break;
		case 'F': f |= MI_FLAGGED; break;
		case 'R': f |= MI_ANSWERED; break;
		case 'S': f |= MI_SEEN; break;
		case 'T': f |= MI_DELETED; break;
		}
	}
	return f;
}

static struct mkw *kwmap(struct mi *mi)
{
	if (!mi->kw_loaded) {
		mkw_load(mi->dir, &mi->kw);
		mi->kw_loaded = true;
	}
	return &mi->kw;
}

/* base:2,LETTERS: the flags' capitals, then the keywords' lowercase letters
 * (kwletters; NULL keeps the name's own), then other letters the name had. */
static char *name_with_flags(const char *file, uint32_t flags, const char *kwletters)
{
	const char *info = strstr(file, ":2,");
	size_t bl = info ? (size_t)(info - file) : strlen(file);
	char letters[64];
	size_t n = 0;
	const char *old = info ? info + 3 : "";
	for (char c = 'A'; c <= 'z'; c++) {
		bool on;
		switch (c) {
		case 'D': on = flags & MI_DRAFT; break;
		case 'F': on = flags & MI_FLAGGED; break;
		case 'R': on = flags & MI_ANSWERED; break;
		case 'S': on = flags & MI_SEEN; break;
		case 'T': on = flags & MI_DELETED; break;
		default:
			on = strchr(c >= 'a' && kwletters ? kwletters : old, c) != NULL;
		}
		if (on && n < sizeof letters - 1)
			letters[n++] = c;
		if (c == 'Z')
			c = 'a' - 1;
	}
	letters[n] = '\0';
	return xasprintf("%.*s:2,%s", (int)bl, file, letters);
}

/* ---- header ---- */

static int put_header(struct mi *mi)
{
	mi->pub.uidvalidity = mi->h.uidvalidity;
	mi->pub.uidnext = mi->h.uidnext;
	mi->pub.modseq = mi->h.modseq;
	mi->pub.count = mi->h.count;
	mi->pub.first_recent = mi->h.first_recent;
	return db_put(mi, "H", 1, &mi->h, sizeof mi->h);
}

static int64_t mtime_ns(const char *dir, const char *sub)
{
	char *p = xasprintf("%s/%s", dir, sub);
	struct stat st;
	int r = stat(p, &st);
	free(p);
	if (r < 0)
		return -1;
	return (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
}

const struct mi_header *mi_header(const struct mi *mi)
{
	struct mi *m = (struct mi *)mi;
	m->pub.uidvalidity = mi->h.uidvalidity;
	m->pub.uidnext = mi->h.uidnext;
	m->pub.modseq = mi->h.modseq;
	m->pub.count = mi->h.count;
	m->pub.first_recent = mi->h.first_recent;
	return &mi->pub;
}

uint32_t mi_claim_recent(struct mi *mi)
{
	uint32_t first = mi->h.first_recent;
	if (first < mi->h.uidnext) {
		mi->h.first_recent = mi->h.uidnext;
		mi->dirty = true;
	}
	return first;
}

/* ---- opening ---- */

static int open_db(struct mi *mi, bool create)
{
	char *path = xasprintf("%s/%s", mi->dir, MI_DB);
	int r = db_create(&mi->db, NULL, 0);
	if (r == 0 && create)
		r = mi->db->set_pagesize(mi->db, MI_PAGE_SIZE);
	if (r == 0)
		r = mi->db->set_cachesize(mi->db, 0, MI_CACHE_BYTES, 1);
	if (r == 0)
		r = mi->db->open(mi->db, NULL, path, NULL, DB_BTREE, create ? DB_CREATE : 0, 0600);
	free(path);
	if (r) {
		if (mi->db)
			mi->db->close(mi->db, 0);
		mi->db = NULL;
		return -1;
	}
	return 0;
}

/* Load the header; false when missing or corrupt. */
static bool load_header(struct mi *mi)
{
	void *v;
	size_t vl;
	if (db_get(mi, "H", 1, &v, &vl) != 1)
		return false;
	bool ok = vl == sizeof mi->h || vl == HDR_V1_SIZE;
	if (ok) {
		memset(&mi->h, 0, sizeof mi->h);
		memcpy(&mi->h, v, vl);
		if (vl == HDR_V1_SIZE) {
			mi->h.first_recent = mi->h.uidnext;
			mi->dirty = true;	/* written in today's form at close */
		}
	}
	free(v);
	return ok && mi->h.version == MI_VERSION && mi->h.uidnext > 0;
}

/* The Maildir a folder directory belongs to: a Maildir++ folder ".Name"
 * lives in it, INBOX is the Maildir itself. */
static char *maildir_root(const char *dir)
{
	const char *slash = strrchr(dir, '/');
	const char *last = slash ? slash + 1 : dir;
	if (last[0] != '.' || !strcmp(last, ".") || !strcmp(last, ".."))
		return xstrdup(dir);
	return slash ? xstrndup(dir, (size_t)(slash - dir)) : xstrdup(".");
}

static uint32_t read_u32_file(FILE *f)
{
	uint32_t v = 0;
	rewind(f);
	if (fscanf(f, "%u", &v) != 1)
		v = 0;
	return v;
}

/* A new UIDVALIDITY, above every one this user's folders had: the last one
 * handed out is kept in the Maildir's tern-uidvalidity (under a flock, as
 * sessions create folders concurrently), which survives deleting a folder
 * or dropping an index, so a re-created folder or rebuilt index is never
 * mistaken for the old one, even within the same second, and no two
 * folders share one. A folder's own file (older versions kept only that)
 * counts too. */
static uint32_t next_uidvalidity(const char *dir)
{
	uint32_t last = 0, now = (uint32_t)time(NULL);
	char *own = xasprintf("%s/tern-uidvalidity", dir);
	char *root = maildir_root(dir);
	char *gp = xasprintf("%s/tern-uidvalidity", root);
	int gfd = open(gp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	FILE *g = gfd >= 0 ? fdopen(gfd, "r+") : NULL;
	if (g && flock(gfd, LOCK_EX) == 0)
		last = read_u32_file(g);
	FILE *f = strcmp(own, gp) ? fopen(own, "r") : NULL;
	if (f) {
		uint32_t mine = read_u32_file(f);
		last = mine > last ? mine : last;
		fclose(f);
	}
	uint32_t v = now > last ? now : last + 1;
	if (g) {
		rewind(g);
		if (ftruncate(gfd, 0) == 0)
			fprintf(g, "%u\n", v);
		fclose(g);	/* releases the flock */
	} else if (gfd >= 0) {
		close(gfd);
	}
	if (strcmp(own, gp) && (f = fopen(own, "w"))) {
		fprintf(f, "%u\n", v);
		fclose(f);
	}
	free(own);
	free(root);
	free(gp);
	return v;
}

static int fresh_index(struct mi *mi)
{
	char *path = xasprintf("%s/%s", mi->dir, MI_DB);
	unlink(path);
	free(path);
	if (open_db(mi, true) < 0)
		return -1;
	memset(&mi->h, 0, sizeof mi->h);
	mi->h.version = MI_VERSION;
	mi->h.uidvalidity = next_uidvalidity(mi->dir);
	mi->h.uidnext = 1;
	mi->h.first_recent = 1;	/* every message found is new to every session */
	mi->h.modseq = 1;
	mi->h.cur_mtime = mi->h.new_mtime = -1;
	log_info("index: created for %s uidvalidity=%u", mi->dir, mi->h.uidvalidity);
	return put_header(mi);
}

static int scan(struct mi *mi, uint32_t **new_uids, size_t *n_new);

struct mi *mi_open(const char *dir, uint32_t **new_uids, size_t *n_new, char *why, size_t whylen)
{
	struct mi *mi = xcalloc(1, sizeof *mi);
	mi->dir = xstrdup(dir);
	if (new_uids) {
		*new_uids = NULL;
		*n_new = 0;
	}
	char *lp = xasprintf("%s/%s", dir, MI_LOCK);
	mi->lockfd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(lp);
	if (mi->lockfd < 0 || flock(mi->lockfd, LOCK_EX) < 0) {
		snprintf(why, whylen, "cannot lock index of %s: %s", dir, strerror(errno));
		goto fail;
	}
	if (open_db(mi, false) < 0 || !load_header(mi)) {
		if (mi->db) {
			log_warn("index: %s/%s is unreadable; rebuilding", dir, MI_DB);
			mi->db->close(mi->db, 0);
			mi->db = NULL;
		}
		if (fresh_index(mi) < 0) {
			snprintf(why, whylen, "cannot create index in %s", dir);
			goto fail;
		}
	}
	/* the header is written when something changed it (mi_close): an
	 * open that only reads writes nothing and syncs nothing */
	mlog_begin(mi);
	if (scan(mi, new_uids, n_new) < 0) {
		snprintf(why, whylen, "cannot read Maildir %s: %s", dir, strerror(errno));
		goto fail;
	}
	return mi;
fail:
	if (mi->db)
		mi->db->close(mi->db, 0);
	if (mi->lockfd >= 0)
		close(mi->lockfd);
	free(mi->dir);
	free(mi);
	return NULL;
}

void mi_close(struct mi *mi)
{
	if (!mi)
		return;
	if (mi->cur_changed) {
		/* only our own changes moved cur/'s mtime: the index reflects them,
		 * so the next open need not read the directory */
		mi->h.cur_mtime = mi->cur_foreign ? -1 : mi->cur_expect;
		mi->dirty = true;
	}
	if (mi->dirty)
		put_header(mi);
	mi->wrote |= mi->tombs.dirty;
	tomb_save(mi->db, &mi->tombs);
	/* a handle that only read has nothing to flush: each FETCH turn opens
	 * and closes the index, and an fdatasync per turn was most of a warm
	 * FETCH's time (84 for 20,000 messages) */
	if (mi->wrote) {
		mi->db->sync(mi->db, 0);
		mi->db->close(mi->db, 0);
	} else {
		mi->db->close(mi->db, DB_NOSYNC);
	}
	close(mi->lockfd);
	mkw_free(&mi->kw);
	free(mi->dir);
	free(mi);
}

char *mi_path(const struct mi *mi, const struct mi_rec *r)
{
	return xasprintf("%s/cur/%s", mi->dir, r->file);
}

int mi_drop(const char *dir)
{
	char *p = xasprintf("%s/%s", dir, MI_DB);
	int r = unlink(p);
	free(p);
	return r < 0 && errno != ENOENT ? -1 : 0;
}

/* ---- scanning the Maildir ---- */

struct entry {
	char *name;
	size_t base_len;	/* length of the unique part before ":2," */
	int64_t mtime;		/* ns; -1 until stat'ed */
	bool seen;
	uint64_t size;		/* octets on disk, once stat'ed */
	bool regular;		/* stat'ed: a regular file (mtime and size set) */
};

static size_t base_len(const char *file)
{
	const char *colon = strstr(file, ":2,");
	return colon ? (size_t)(colon - file) : strlen(file);
}

/* Order by the unique part of the name (flags do not identify a message). */
static int cmp_entry_name(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	size_t n = x->base_len < y->base_len ? x->base_len : y->base_len;
	int r = memcmp(x->name, y->name, n);
	if (r)
		return r;
	return x->base_len < y->base_len ? -1 : x->base_len > y->base_len;
}

static int cmp_entry_age(const void *a, const void *b)
{
	const struct entry *x = *(struct entry *const *)a, *y = *(struct entry *const *)b;
	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Before and after each change this handle makes to cur/: an mtime we did
 * not cause means someone else changed the directory (the index no longer
 * tells all), and the mtime after our change is the one the index reflects. */
static void cur_change_begin(struct mi *mi)
{
	if (mtime_ns(mi->dir, "cur") != mi->cur_expect)
		mi->cur_foreign = true;
}

static void cur_change_end(struct mi *mi)
{
	mi->cur_expect = mtime_ns(mi->dir, "cur");
	mi->cur_changed = true;
	mi->dirty = true;
}

static size_t base_len(const char *file);

/* Move every file of new/ into cur/ with an empty info part; the names they
 * have in cur/ are returned (sorted, entries not yet seen). */
static struct entry *move_new(struct mi *mi, size_t *n)
{
	char *nd = xasprintf("%s/new", mi->dir);
	DIR *d = opendir(nd);
	size_t cap = 16;
	struct entry *v = xcalloc(cap, sizeof *v);
	*n = 0;
	if (!d) {
		free(nd);
		return v;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char *name = strstr(e->d_name, ":2,") ? xstrdup(e->d_name) : xasprintf("%s:2,", e->d_name);
		char *from = xasprintf("%s/%s", nd, e->d_name);
		char *to = xasprintf("%s/cur/%s", mi->dir, name);
		cur_change_begin(mi);
		int r = rename(from, to);
		cur_change_end(mi);
		if (r < 0 && errno != ENOENT)
			log_warn("index: rename %s: %s", from, strerror(errno));
		if (r == 0) {
			if (*n == cap) {
				cap *= 2;
				v = xrealloc(v, cap * sizeof *v);
			}
			v[(*n)++] = (struct entry){ name, base_len(name), -1, false, 0, false };
			name = NULL;
		}
		free(name);
		free(from);
		free(to);
	}
	closedir(d);
	free(nd);
	return v;
}

static struct entry *read_cur(struct mi *mi, size_t *n)
{
	char *cd = xasprintf("%s/cur", mi->dir);
	DIR *d = opendir(cd);
	size_t cap = 64;
	struct entry *v = xcalloc(cap, sizeof *v);
	*n = 0;
	if (!d) {
		free(cd);
		free(v);
		return NULL;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (*n == cap) {
			cap *= 2;
			v = xrealloc(v, cap * sizeof *v);
		}
		v[*n].name = xstrdup(e->d_name);
		v[*n].base_len = base_len(e->d_name);
		v[*n].mtime = -1;
		v[*n].seen = false;
		v[*n].size = 0;
		v[*n].regular = false;
		(*n)++;
	}
	closedir(d);
	free(cd);
	qsort(v, *n, sizeof *v, cmp_entry_name);
	return v;
}

static struct entry *find_entry(struct entry *v, size_t n, const char *file)
{
	struct entry key = { (char *)file, base_len(file), 0, false, 0, false };
	return bsearch(&key, v, n, sizeof *v, cmp_entry_name);
}

/* A message's cached structures, made from its file alone: what a helper
 * thread may prepare while the index is written (workahead.h). */
struct prepared {
	bool ok;		/* the file could be opened */
	uint64_t crlf_size;	/* its size in CRLF octets */
	char *cache;		/* the 'C' record */
	size_t ncache;
	char *fields;		/* the 'F' record, NULL if the header is too large */
	size_t nfields;
};

static void prepared_clear(struct prepared *p)
{
	free(p->cache);
	free(p->fields);
	memset(p, 0, sizeof *p);
}

/* The IMAP structures of a parsed message. */
static void render_structures(const struct mime_msg *m, struct prepared *out)
{
	/* one walk of the header for the ENVELOPE and the field record */
	struct mime_env env = { 0 };
	out->fields = mi_fields_encode_env(m, &env, &out->nfields);
	/* the three renderings in one buffer, NUL after each */
	struct strbuf b = { 0 };
	strbuf_addc(&b, MI_CACHE_V);
	mime_env_render(&env, &b);
	mime_env_free(&env);
	strbuf_addc(&b, '\0');
	mime_bodystructure_render(m, m->root, true, &b);
	strbuf_addc(&b, '\0');
	mime_bodystructure_render(m, m->root, false, &b);
	strbuf_addc(&b, '\0');
	out->ncache = b.len;
	out->cache = b.p;	/* the strbuf's block, handed over */
}

/* Parse the message in fd (size bytes on disk) and render its structures;
 * touches nothing but *out (any thread). */
static void prepare_fd(int fd, uint64_t size, struct prepared *out)
{
	struct mime_msg *m = NULL;
	out->ok = true;
	out->crlf_size = size;
	if (size <= MI_MAX_MSG)
		m = mime_parse_fd_len(fd, size, MI_MAX_MSG, &out->crlf_size);
	if (m) {
		render_structures(m, out);
		mime_stream_free(m);
	} else {
		m = mime_parse("", 0);	/* too large or unreadable: indexed, not parsed */
		render_structures(m, out);
		mime_free(m);
	}
}

static void put_structures(struct mi *mi, uint32_t uid, const struct prepared *p)
{
	unsigned char k[5];
	uid_key(k, 'C', uid);
	db_put(mi, k, 5, p->cache, p->ncache);
	if (p->fields)
		mi_fields_put(mi, uid, p->fields, p->nfields);
}

/* Parse the message in fd (size bytes on disk) and cache its structures. */
static void parse_and_cache(struct mi *mi, uint32_t uid, int fd, uint64_t size)
{
	struct prepared p = { 0 };
	prepare_fd(fd, size, &p);
	put_structures(mi, uid, &p);
	prepared_clear(&p);
}

/* Record a new file of cur/ as message uid: its structures (prepared from
 * the file), name, size and date. */
static int commit_file(struct mi *mi, const char *file, uint64_t size, int64_t idate, uint32_t uid,
		       const struct prepared *p)
{
	char *kw = mkw_names(kwmap(mi), file, "");
	struct mi_rec r = { .uid = uid, .flags = mi_flags_from_name(file), .modseq = ++mi->h.modseq,
			    .idate = idate, .savedate = time(NULL), .file = (char *)file,
			    .keywords = kw };
	r.size = p->ok ? p->crlf_size : size;
	put_structures(mi, uid, p);
	size_t kl;
	char *bk = base_key(file, &kl);
	unsigned char uv[4] = { (unsigned char)(uid >> 24), (unsigned char)(uid >> 16),
				(unsigned char)(uid >> 8), (unsigned char)uid };
	db_put(mi, bk, kl, uv, 4);
	free(bk);
	mi->h.count++;
	int rc = put_rec(mi, &r, 0);
	free(kw);
	return rc;
}

/* Index one new file of cur/: size, date, structures. The file is parsed as
 * it is read (mime_stream.h), so even a huge message costs bounded memory. */
static int index_file(struct mi *mi, const char *file, uint32_t uid)
{
	char *path = xasprintf("%s/cur/%s", mi->dir, file);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(path);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct prepared p = { 0 };
	prepare_fd(fd, (uint64_t)st.st_size, &p);
	close(fd);
	int rc = commit_file(mi, file, (uint64_t)st.st_size, (int64_t)st.st_mtim.tv_sec, uid, &p);
	prepared_clear(&p);
	return rc;
}

static void drop_record(struct mi *mi, const struct mi_rec *r)
{
	unsigned char k[5];
	uid_key(k, 'U', r->uid);
	db_del(mi, k, 5);
	uid_key(k, 'C', r->uid);
	db_del(mi, k, 5);
	uid_key(k, 'F', r->uid);
	db_del(mi, k, 5);
	uid_key(k, 'P', r->uid);
	db_del(mi, k, 5);
	size_t kl;
	char *bk = base_key(r->file, &kl);
	db_del(mi, bk, kl);
	free(bk);
	mlog_del(mi, r->modseq);
	if (mi->h.count)
		mi->h.count--;
	mi->h.modseq++;
	mi->wrote = true;
	tomb_add(mi->db, &mi->tombs, mi->h.modseq, r->uid, mi->dir);
}

/* Where the change log begins. */
static uint64_t mlog_start(struct mi *mi)
{
	void *v;
	size_t vl;
	uint64_t start = UINT64_MAX;
	if (db_get(mi, "L", 1, &v, &vl) == 1) {
		if (vl == sizeof start)
			memcpy(&start, v, sizeof start);
		free(v);
	}
	return start;
}

int mi_changed_since(struct mi *mi, uint64_t modseq, struct mi_rec **recs, size_t *n)
{
	*recs = NULL;
	*n = 0;
	if (modseq < mlog_start(mi))
		return -1;
	DBC *c;
	if (mi->db->cursor(mi->db, NULL, &c, 0) != 0)
		return -1;
	unsigned char start[9];
	mlog_key(start, modseq + 1);
	DBT k, v;
	dbt(&k, start, 9);
	memset(&v, 0, sizeof v);
	size_t cap = 0;
	uint32_t *uids = NULL;
	for (int r = c->get(c, &k, &v, DB_SET_RANGE); r == 0 && k.size == 9 &&
	     ((unsigned char *)k.data)[0] == 'M'; r = c->get(c, &k, &v, DB_NEXT)) {
		if (v.size != 4)
			continue;
		const unsigned char *u = v.data;
		if (*n == cap) {
			cap = cap ? cap * 2 : 64;
			uids = xrealloc(uids, cap * sizeof *uids);
		}
		uids[(*n)++] = (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
	}
	c->close(c);
	/* in UID order, each record as it is now */
	if (*n)
		qsort(uids, *n, sizeof *uids, cmp_uid);
	*recs = xcalloc(*n + 1, sizeof **recs);
	size_t got = 0;
	for (size_t i = 0; i < *n; i++)
		if ((i == 0 || uids[i] != uids[i - 1]) && mi_get(mi, uids[i], &(*recs)[got]) == 1)
			got++;
	free(uids);
	*n = got;
	return 0;
}

size_t mi_expunged_since(struct mi *mi, uint64_t modseq, uint32_t **uids)
{
	return tomb_since(mi->db, &mi->tombs, modseq, mi->h.uidnext, uids);
}

/* Known files: note renames (flag changes) and vanished files. */
static void reconcile_known(struct mi *mi, struct entry *v, size_t n)
{
	struct mi_rec *recs;
	size_t nr;
	mi_load(mi, &recs, &nr);
	for (size_t i = 0; i < nr; i++) {
		struct entry *e = find_entry(v, n, recs[i].file);
		if (!e) {
			drop_record(mi, &recs[i]);
			continue;
		}
		e->seen = true;
		if (strcmp(e->name, recs[i].file)) {
			free(recs[i].file);
			recs[i].file = xstrdup(e->name);
			recs[i].flags = mi_flags_from_name(e->name);
			char *kw = mkw_names(kwmap(mi), e->name, recs[i].keywords);
			free(recs[i].keywords);
			recs[i].keywords = kw;
			uint64_t old = recs[i].modseq;
			recs[i].modseq = ++mi->h.modseq;
			put_rec(mi, &recs[i], old);
		}
	}
	mi_recs_free(recs, nr);
}

/* Items of a build prepared ahead of the one being written. */
#define MI_AHEAD	64

/* Adding new files in age order: helper threads open and parse the files
 * ahead (workahead.h) while this thread writes each into the index. */
struct build {
	struct mi *mi;
	int curfd;
	struct entry **fresh;
	struct prepared slot[MI_AHEAD];
	uint32_t **new_uids;
	size_t *n_new;
};

static void build_prep(size_t i, void *arg)
{
	struct build *b = arg;
	struct prepared *p = &b->slot[i % MI_AHEAD];
	int fd = openat(b->curfd, b->fresh[i]->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;		/* gone since the stat: p->ok stays false */
	prepare_fd(fd, b->fresh[i]->size, p);
	close(fd);
}

static void build_done(size_t i, void *arg)
{
	struct build *b = arg;
	struct mi *mi = b->mi;
	struct prepared *p = &b->slot[i % MI_AHEAD];
	const struct entry *e = b->fresh[i];
	uint32_t uid = mi->h.uidnext;
	if (p->ok && commit_file(mi, e->name, e->size, e->mtime / 1000000000LL, uid, p) == 0) {
		mi->h.uidnext++;
		if (b->new_uids) {
			*b->new_uids = xrealloc(*b->new_uids, (*b->n_new + 1) * sizeof **b->new_uids);
			(*b->new_uids)[(*b->n_new)++] = uid;
		}
	}
	prepared_clear(p);
}

/* Names stat'ed per item of the stat pass (workahead.h). */
#define MI_STAT_CHUNK	256

struct stat_pass {
	int curfd;
	struct entry *v;
	size_t n;
};

/* The one stat of each unknown file: its age orders the new UIDs, and the
 * record takes size and date from it. */
static void stat_chunk(size_t c, void *arg)
{
	struct stat_pass *sp = arg;
	size_t end = (c + 1) * MI_STAT_CHUNK < sp->n ? (c + 1) * MI_STAT_CHUNK : sp->n;
	for (size_t i = c * MI_STAT_CHUNK; i < end; i++) {
		struct entry *e = &sp->v[i];
		struct stat st;
		if (!e->seen && fstatat(sp->curfd, e->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode)) {
			e->mtime = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
			e->size = (uint64_t)st.st_size;
			e->regular = true;
		}
	}
}

static void nothing(size_t i, void *arg)
{
	(void)i;
	(void)arg;
}

static void add_unknown(struct mi *mi, struct entry *v, size_t n, uint32_t **new_uids,
			size_t *n_new)
{
	char *cd = xasprintf("%s/cur", mi->dir);
	int curfd = open(cd, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(cd);
	if (curfd < 0)
		return;
	struct stat_pass sp = { curfd, v, n };
	workahead_run((n + MI_STAT_CHUNK - 1) / MI_STAT_CHUNK, 8, stat_chunk, nothing, &sp);
	struct entry **fresh = xcalloc(n + 1, sizeof *fresh);
	size_t nf = 0;
	for (size_t i = 0; i < n; i++)
		if (!v[i].seen && v[i].regular)
			fresh[nf++] = &v[i];
	qsort(fresh, nf, sizeof *fresh, cmp_entry_age);
	struct build *b = xcalloc(1, sizeof *b);
	*b = (struct build){ .mi = mi, .curfd = curfd, .fresh = fresh, .new_uids = new_uids,
			     .n_new = n_new };
	workahead_run(nf, MI_AHEAD, build_prep, build_done, b);
	free(b);
	free(fresh);
	close(curfd);
}

/* Does the mtime the index recorded still describe the directory? Nanosecond
 * mtimes change with every change (multigrain timestamps make a change after
 * our stat visible even within one clock tick); on a filesystem with whole
 * seconds only, a change within the recorded second could hide, so such an
 * mtime is trusted only once it is a couple of seconds old. */
static bool trust_mtime(int64_t stored, int64_t now_mt)
{
	if (stored < 0 || stored != now_mt)
		return false;
	return now_mt % 1000000000LL != 0 || now_mt / 1000000000LL < (int64_t)time(NULL) - 2;
}

static void free_entries(struct entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* Are all these names unknown to the index (so they can simply be added)? */
static bool all_unknown(struct mi *mi, const struct entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t kl;
		char *bk = base_key(v[i].name, &kl);
		void *val;
		size_t vl;
		int r = db_get(mi, bk, kl, &val, &vl);
		free(bk);
		if (r != 0) {
			if (r > 0)
				free(val);
			return false;
		}
	}
	return true;
}

/* Read cur/ whole: vanished files become expunges, renamed ones flag changes,
 * unknown ones new messages. The mtime is taken before the read, so a change
 * made while we read shows as a different mtime at the next open. */
static int full_scan(struct mi *mi, uint32_t **new_uids, size_t *n_new)
{
	int64_t cm = mtime_ns(mi->dir, "cur");
	size_t n;
	struct entry *v = read_cur(mi, &n);
	if (!v || cm < 0)
		return -1;
	reconcile_known(mi, v, n);
	add_unknown(mi, v, n, new_uids, n_new);
	free_entries(v, n);
	mi->h.cur_mtime = mi->cur_expect = cm;
	mi->cur_foreign = false;
	return 0;
}

/* Sync with the Maildir at a cost of O(changes): nothing is read when both
 * mtimes are as recorded; new mail (new/ changed) is moved and indexed
 * without reading cur/; only a change to cur/ that the index does not already
 * reflect (another Maildir tool, pop3d) makes us read cur/ whole. */
static int scan(struct mi *mi, uint32_t **new_uids, size_t *n_new)
{
	int64_t nm = mtime_ns(mi->dir, "new"), cm = mtime_ns(mi->dir, "cur");
	if (nm < 0 || cm < 0)
		return -1;
	mi->cur_expect = cm;
	bool cur_ok = trust_mtime(mi->h.cur_mtime, cm);
	if (cur_ok && trust_mtime(mi->h.new_mtime, nm))
		return 0;
	if (!trust_mtime(mi->h.new_mtime, nm)) {
		size_t n;
		struct entry *moved = move_new(mi, &n);
		mi->h.new_mtime = nm;	/* taken before the read: later mail changes it */
		qsort(moved, n, sizeof *moved, cmp_entry_name);
		if (cur_ok && !mi->cur_foreign && all_unknown(mi, moved, n))
			add_unknown(mi, moved, n, new_uids, n_new);
		else
			cur_ok = false;
		free_entries(moved, n);
	}
	if (!cur_ok && full_scan(mi, new_uids, n_new) < 0)
		return -1;
	mi->dirty = true;
	return put_header(mi);
}

/* ---- changes ---- */

int mi_set_flags(struct mi *mi, uint32_t uid, uint32_t flags, const char *keywords)
{
	struct mi_rec r;
	if (mi_get(mi, uid, &r) != 1)
		return -1;
	char letters[MKW_SLOTS + 1];
	const char *kwl = NULL;
	if (keywords) {
		mkw_letters(kwmap(mi), keywords, letters);
		kwl = letters;
		if (mi->kw.changed && mkw_save(mi->dir, &mi->kw) < 0) {
			/* the letters' names must be on disk before any file uses them */
			log_warn("index: cannot write %s/%s: %s", mi->dir, MKW_FILE, strerror(errno));
			mkw_free(&mi->kw);
			mi->kw_loaded = false;
			kwl = NULL;
		}
	}
	char *nn = name_with_flags(r.file, flags & MI_ALLFLAGS, kwl);
	bool renamed = strcmp(nn, r.file) != 0;
	if (renamed) {
		char *from = xasprintf("%s/cur/%s", mi->dir, r.file);
		char *to = xasprintf("%s/cur/%s", mi->dir, nn);
		cur_change_begin(mi);
		int rr = rename(from, to);
		cur_change_end(mi);
		free(from);
		free(to);
		if (rr < 0) {
			free(nn);
			mi_rec_clear(&r);
			return -1;
		}
		free(r.file);
		r.file = nn;
	} else {
		free(nn);
	}
	bool same = !renamed && r.flags == (flags & MI_ALLFLAGS);
	r.flags = flags & MI_ALLFLAGS;
	if (keywords) {
		/* each keyword spelled as the folder's keyword file has it (IMAP
		 * keywords ignore case), so a rebuilt index reads back the same */
		char *was = r.keywords;
		r.keywords = kwl ? mkw_names(&mi->kw, r.file, keywords) : xstrndup(keywords, MI_MAX_KEYWORDS_LEN);
		same = same && !strcmp(was ? was : "", r.keywords);
		free(was);
	}
	if (same) {
		/* nothing changed: no new MODSEQ, so no IMAP client or JMAP
		 * Email/changes sees a change that is none */
		mi_rec_clear(&r);
		return 0;
	}
	uint64_t old = r.modseq;
	r.modseq = ++mi->h.modseq;
	mi->dirty = true;
	int rc = put_rec(mi, &r, old);
	mi_rec_clear(&r);
	return rc;
}

int mi_expunge(struct mi *mi, uint32_t uid)
{
	struct mi_rec r;
	if (mi_get(mi, uid, &r) != 1)
		return -1;
	char *p = mi_path(mi, &r);
	cur_change_begin(mi);
	int rr = unlink(p);
	cur_change_end(mi);
	free(p);
	if (rr < 0 && errno != ENOENT) {
		mi_rec_clear(&r);
		return -1;
	}
	drop_record(mi, &r);
	mi_rec_clear(&r);
	return 0;
}

static int copy_crlf_to_lf(int in, int out)
{
	/* store with LF line ends, as deliverd does; CR before LF dropped */
	char buf[65536], ob[65536];
	bool pending_cr = false;
	ssize_t n;
	while ((n = read(in, buf, sizeof buf)) > 0) {
		size_t o = 0;
		for (ssize_t i = 0; i < n; i++) {
			if (pending_cr && buf[i] != '\n')
				ob[o++] = '\r';
			pending_cr = false;
			if (buf[i] == '\r') {
				pending_cr = true;
				continue;
			}
			ob[o++] = buf[i];
			if (o >= sizeof ob - 2) {
				if (write_all(out, ob, o) < 0)
					return -1;
				o = 0;
			}
		}
		if (o && write_all(out, ob, o) < 0)
			return -1;
	}
	if (pending_cr && write_all(out, "\r", 1) < 0)
		return -1;
	return n < 0 ? -1 : 0;
}

char *mi_unique_name(void)
{
	static unsigned seq;
	char host[64] = "localhost";
	gethostname(host, sizeof host - 1);
	for (char *h = host; *h; h++)
		if (*h == '/' || *h == ':')
			*h = '_';
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* microseconds zero-padded: messages appended within one second share
	 * their mtime (the internal date), and a rebuild then orders them by name */
	return xasprintf("%lld.M%06ldP%dQ%u.%s", (long long)ts.tv_sec, ts.tv_nsec / 1000,
			 (int)getpid(), ++seq, host);
}

int mi_add_tmp(struct mi *mi, const char *base, uint32_t flags, const char *keywords, int64_t idate,
	       uint32_t *uid)
{
	char *tmp = xasprintf("%s/tmp/%s", mi->dir, base);
	int fd = open(tmp, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	struct timespec times[2] = { { idate, 0 }, { idate, 0 } };
	bool ok = fd >= 0 && fsync(fd) == 0 && futimens(fd, times) == 0;
	if (fd >= 0)
		close(fd);
	char *file = name_with_flags(base, flags, NULL);
	char *dest = xasprintf("%s/cur/%s", mi->dir, file);
	int rc = -1;
	if (ok) {
		cur_change_begin(mi);
		ok = rename(tmp, dest) == 0;
		cur_change_end(mi);
	}
	if (!ok) {
		unlink(tmp);
		goto done;
	}
	char *cd = xasprintf("%s/cur", mi->dir);
	fsync_dir(cd);
	free(cd);
	*uid = mi->h.uidnext;
	if (index_file(mi, file, *uid) == 0) {
		mi->h.uidnext++;
		if (keywords && *keywords)
			mi_set_flags(mi, *uid, flags, keywords);
		rc = 0;
	}
done:
	free(file);
	free(dest);
	free(tmp);
	mi->dirty = true;
	return rc;
}

int mi_add_link(struct mi *mi, const char *path, uint32_t flags, const char *keywords,
		int64_t idate, uint32_t *uid)
{
	const char *slash = strrchr(path, '/');
	const char *file = slash ? slash + 1 : path;
	size_t kl;
	char *bk = base_key(file, &kl);
	void *v;
	size_t vl;
	int known = db_get(mi, bk, kl, &v, &vl);
	if (known == 1)
		free(v);
	char *base = xstrndup(bk + 1, kl - 1);
	free(bk);
	/* a name the folder knows already (a MOVE that failed half-way): the
	 * caller copies instead, so two records never share one file */
	char *tmp = xasprintf("%s/tmp/%s", mi->dir, base);
	int rc = known == 0 && link(path, tmp) == 0 ? 0 : -1;
	free(tmp);
	if (rc == 0)
		rc = mi_add_tmp(mi, base, flags, keywords, idate, uid);
	free(base);
	return rc;
}

int mi_add_fd(struct mi *mi, int fd, uint32_t flags, const char *keywords, int64_t idate,
	      uint32_t *uid)
{
	char *base = mi_unique_name();
	char *tmp = xasprintf("%s/tmp/%s", mi->dir, base);
	int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int rc = -1;
	if (out >= 0) {
		rc = lseek(fd, 0, SEEK_SET) < 0 || copy_crlf_to_lf(fd, out) < 0 ? -1 : 0;
		close(out);
		if (rc < 0)
			unlink(tmp);
		else
			rc = mi_add_tmp(mi, base, flags, keywords, idate, uid);
	}
	free(base);
	free(tmp);
	return rc;
}

/* Cache uid's structures again from its file (the record is of an older version). */
static void recache(struct mi *mi, uint32_t uid)
{
	struct mi_rec r;
	if (mi_get(mi, uid, &r) != 1)
		return;
	char *path = mi_path(mi, &r);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		parse_and_cache(mi, uid, fd, (uint64_t)st.st_size);
	if (fd >= 0)
		close(fd);
	free(path);
	mi_rec_clear(&r);
}

char *mi_cached(struct mi *mi, uint32_t uid, char which)
{
	unsigned char k[5];
	void *v;
	size_t vl;
	uid_key(k, 'C', uid);
	if (db_get(mi, k, 5, &v, &vl) != 1)
		return NULL;
	if (!vl || *(char *)v != MI_CACHE_V) {
		free(v);
		recache(mi, uid);
		if (db_get(mi, k, 5, &v, &vl) != 1)
			return NULL;
		if (!vl || *(char *)v != MI_CACHE_V) {
			free(v);
			return NULL;
		}
	}
	const char *p = (const char *)v + 1, *end = (const char *)v + vl;
	int skip = which == 'E' ? 0 : which == 'S' ? 1 : 2;
	for (int i = 0; i < skip && p < end; i++)
		p += strnlen(p, (size_t)(end - p)) + 1;
	char *r = p < end ? xstrndup(p, (size_t)(end - p)) : NULL;
	free(v);
	return r;
}

/* "P" + uid -> the preview text, without its NUL */
char *mi_preview_get(struct mi *mi, uint32_t uid)
{
	unsigned char k[5];
	void *v;
	size_t vl;
	uid_key(k, 'P', uid);
	if (db_get(mi, k, 5, &v, &vl) != 1)
		return NULL;
	char *r = xstrndup(v, vl);
	free(v);
	return r;
}

int mi_preview_put(struct mi *mi, uint32_t uid, const char *text)
{
	unsigned char k[5];
	uid_key(k, 'P', uid);
	return db_put(mi, k, 5, text, strlen(text));
}

/* ---- cached header fields (SEARCH) ---- */

struct fields_enc {
	struct evbuffer *b;
	unsigned char flags;
	bool over;
	struct mime_env *env;	/* the ENVELOPE's fields, from the same walk */
};

static void fields_add(struct fields_enc *e, const char *name, const char *v)
{
	size_t nl = strlen(name), vl = strlen(v);
	if (evbuffer_get_length(e->b) + nl + vl + 2 > MI_FIELDS_MAX) {
		e->over = true;
	} else {
		evbuffer_add(e->b, name, nl + 1);
		evbuffer_add(e->b, v, vl + 1);
	}
}

static bool is_search_address(int slot)
{
	return slot == MIME_ENV_FROM || slot == MIME_ENV_TO || slot == MIME_ENV_CC ||
	       slot == MIME_ENV_BCC;
}

static int fields_cb(const char *name, const char *value, void *arg)
{
	struct fields_enc *e = arg;
	bool first;
	/* the cached fields are the ENVELOPE's (mi_field_cached): its slot
	 * names the field in lower case */
	int slot = mime_env_field(e->env, name, value, &first);
	if (slot < 0 || e->over)
		return 0;	/* over: the walk goes on for the ENVELOPE */
	const char *lower = mime_envelope_names[slot];
	/* without "=?" decoding is the identity: skip it (most fields) */
	char *dec = strstr(value, "=?") ? mime_decode_words(value) : NULL;
	if (dec && slot == MIME_ENV_DATE)
		e->flags |= MI_FIELDS_DATE_ENC;
	fields_add(e, lower, dec ? dec : value);
	free(dec);
	if (!e->over && is_search_address(slot)) {
		/* the ENVELOPE's occurrence is parsed already */
		char *text = first ? mime_addr_list_text(e->env->a[slot], e->env->na[slot]) :
				     mime_addr_text(value);
		char at[sizeof "@message-id"] = "@";
		strcpy(at + 1, lower);
		fields_add(e, at, text);
		free(text);
	}
	return 0;
}

char *mi_fields_encode_env(const struct mime_msg *m, struct mime_env *env, size_t *len)
{
	struct fields_enc e = { evbuffer_new(), 0, false, env };
	mime_header_each(m->buf + m->root->hdr_off, m->root->hdr_len, fields_cb, &e);
	char *r = NULL;
	if (!e.over) {
		*len = evbuffer_get_length(e.b) + MI_FIELDS_HDR;
		r = xmalloc(*len);
		r[0] = MI_FIELDS_V;
		r[1] = (char)e.flags;
		evbuffer_remove(e.b, r + MI_FIELDS_HDR, *len - MI_FIELDS_HDR);
	}
	evbuffer_free(e.b);
	return r;
}

char *mi_fields_encode(const struct mime_msg *m, size_t *len)
{
	struct mime_env env = { 0 };
	char *r = mi_fields_encode_env(m, &env, len);
	mime_env_free(&env);
	return r;
}

int mi_fields_put(struct mi *mi, uint32_t uid, const char *rec, size_t len)
{
	unsigned char k[5];
	uid_key(k, 'F', uid);
	return db_put(mi, k, 5, rec, len);
}

struct mi_fcur {
	DBC *c;
	DBT k, v;
	uint32_t uid;		/* of the record under the cursor; 0 before the first */
	bool end;		/* no "F" records past the cursor */
};

struct mi_fcur *mi_fields_open(struct mi *mi)
{
	struct mi_fcur *c = xcalloc(1, sizeof *c);
	if (mi->db->cursor(mi->db, NULL, &c->c, 0) != 0) {
		free(c);
		return NULL;
	}
	return c;
}

/* Position on the first "F" record at or after uid (DB_SET_RANGE), or, when
 * next is set, on the one after the cursor (DB_NEXT). */
static void fcur_move(struct mi_fcur *c, uint32_t uid, bool next)
{
	unsigned char key[5];
	int r;
	if (next) {
		r = c->c->get(c->c, &c->k, &c->v, DB_NEXT);
	} else {
		uid_key(key, 'F', uid);
		dbt(&c->k, key, 5);
		memset(&c->v, 0, sizeof c->v);
		r = c->c->get(c->c, &c->k, &c->v, DB_SET_RANGE);
	}
	const unsigned char *kd = c->k.data;
	if (r || c->k.size != 5 || kd[0] != 'F') {
		c->end = true;
		return;
	}
	c->uid = (uint32_t)kd[1] << 24 | (uint32_t)kd[2] << 16 | (uint32_t)kd[3] << 8 | kd[4];
}

const char *mi_fields_get(struct mi_fcur *c, uint32_t uid, size_t *len)
{
	if (!c || c->end)
		return NULL;
	if (c->uid < uid) {
		/* the next record is usually the one asked for: step, seek if not */
		fcur_move(c, uid, c->uid != 0);
		if (!c->end && c->uid < uid)
			fcur_move(c, uid, false);
	}
	if (c->end || c->uid != uid || c->v.size < MI_FIELDS_HDR ||
	    ((const char *)c->v.data)[0] != MI_FIELDS_V)
		return NULL;
	*len = c->v.size;
	return c->v.data;
}

void mi_fields_close(struct mi_fcur *c)
{
	if (!c)
		return;
	c->c->close(c->c);
	free(c);
}

bool mi_fields_next(const char **p, const char *end, const char **name, const char **value)
{
	const char *n = *p;
	const char *z = n < end ? memchr(n, '\0', (size_t)(end - n)) : NULL;
	if (!z)
		return false;
	const char *v = z + 1;
	const char *z2 = v < end ? memchr(v, '\0', (size_t)(end - v)) : NULL;
	if (!z2)
		return false;
	*name = n;
	*value = v;
	*p = z2 + 1;
	return true;
}
