/* store.c — the in-memory table of queued messages, kept equal to the index,
 * and recovery: index records and spool files are reconciled at start (and by
 * `mailctl queue rebuild`); every repair is logged. */
#include "queued/queued.h"
#include "queued/qindex.h"
#include "common/auth_client.h"
#include "common/log.h"
#include "common/queue_codec.h"
#include "common/util.h"
#include "common/workq.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NBUCKETS 65536

static struct qent *table[NBUCKETS];
static unsigned count;

static unsigned bucket(const char *id)
{
	unsigned h = 2166136261u;
	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h % NBUCKETS;
}

struct qent *store_get(const char *id)
{
	for (struct qent *e = table[bucket(id)]; e; e = e->hnext)
		if (!strcmp(e->m.id, id))
			return e;
	return NULL;
}

struct qent *store_add(struct qmsg *m)
{
	struct qent *e = xcalloc(1, sizeof *e);
	e->m = *m;
	memset(m, 0, sizeof *m);
	e->inflight = xcalloc(e->m.nrcpt ? e->m.nrcpt : 1, 1);
	e->local = xcalloc(e->m.nrcpt ? e->m.nrcpt : 1, 1);
	unsigned b = bucket(e->m.id);
	e->hnext = table[b];
	table[b] = e;
	count++;
	return e;
}

void store_remove(struct qent *e)
{
	struct qent **p = &table[bucket(e->m.id)];
	while (*p && *p != e)
		p = &(*p)->hnext;
	if (*p)
		*p = e->hnext;
	count--;
	for (uint32_t i = 0; e->hop && i < e->m.nrcpt; i++)
		free(e->hop[i]);
	free(e->hop);
	for (uint32_t i = 0; e->exp && i < e->m.nrcpt; i++)
		auth_boxes_free(e->exp[i].boxes, e->exp[i].n);
	free(e->exp);
	qmsg_free(&e->m);
	free(e->inflight);
	free(e->local);
	free(e);
}

void store_set_exp(struct qent *e, uint32_t i, struct auth_mailbox *boxes, size_t n)
{
	if (!e->exp && !n) {
		auth_boxes_free(boxes, 0);
		return;
	}
	if (!e->exp)
		e->exp = xcalloc(e->m.nrcpt, sizeof *e->exp);
	auth_boxes_free(e->exp[i].boxes, e->exp[i].n);
	e->exp[i].boxes = boxes;
	e->exp[i].n = n;
}

void store_each(void (*fn)(struct qent *e, void *arg), void *arg)
{
	/* Collect first: fn may remove entries. */
	struct qent **all = xmalloc((count + 1) * sizeof *all);
	unsigned n = 0;
	for (unsigned b = 0; b < NBUCKETS; b++)
		for (struct qent *e = table[b]; e; e = e->hnext)
			all[n++] = e;
	for (unsigned i = 0; i < n; i++)
		fn(all[i], arg);
	free(all);
}

unsigned store_count(void)
{
	return count;
}

int store_save(struct qent *e)
{
	if (qindex_put(&e->m) < 0) {
		log_err("%s: cannot update queue index: %s", e->m.id, strerror(errno));
		return -1;
	}
	return 0;
}

/* The spool file's unlink, on a worker thread: on a journaling file system
 * it waits for the journal when a commit is under way, and the loop has
 * enqueues to answer meanwhile. */
struct unlink_job {
	struct qent *e;
	char *path;
	int err;
};

static void unlink_work(void *arg)
{
	struct unlink_job *u = arg;
	u->err = unlink(u->path) < 0 && errno != ENOENT ? errno : 0;
}

static void unlink_done(void *arg)
{
	struct unlink_job *u = arg;
	struct qent *e = u->e;
	if (u->err)
		log_err("%s: unlink %s: %s", e->m.id, u->path, strerror(u->err));
	free(u->path);
	free(u);
	if (qindex_del(e->m.id) < 0)
		log_err("%s: cannot delete index record: %s", e->m.id, strerror(errno));
	log_info("%s: removed", e->m.id);
	status_remember(e);
	store_remove(e);
}

static void finish_flushed(void *arg, int err)
{
	struct unlink_job *u = xcalloc(1, sizeof *u);
	u->e = arg;
	u->path = spool_path("msg", u->e->m.id);
	if (u->e->deleted) {
		/* `mailctl queue delete`: its reply, sent after this flush, says the
		 * file is gone */
		unlink_work(u);
		unlink_done(u);
		return;
	}
	workq_submit(qwork, unlink_work, unlink_done, u);
}

void store_finish(struct qent *e)
{
	if (e->removing)
		return;
	e->removing = true;
	/* The final states are durable before the file goes: a crash in between
	 * leaves a finished record without a file, which recovery drops quietly.
	 * Nobody waits for it: it rides on the next enqueue's flush. */
	flush_ride(finish_flushed, e);
}

/* ---- recovery ---- */

struct recov {
	unsigned loaded, dropped, reindexed, held, corrupt, finished;
	char **stale;		/* records to delete once the index cursor is closed */
	size_t nstale;
};

static void load_one(struct qmsg *m, void *arg)
{
	struct recov *r = arg;
	if (store_get(m->id)) {		/* rebuild of a running queue: memory wins */
		qmsg_free(m);
		return;
	}
	char *p = spool_path("msg", m->id);
	bool have = access(p, F_OK) == 0;
	free(p);
	if (!have) {
		if (!qmsg_done(m)) {
			log_err("%s: index record without spool file: message lost before delivery "
				"to %u recipient(s); from=<%s>, record dropped", m->id, m->nrcpt, m->sender);
			for (uint32_t i = 0; i < m->nrcpt; i++)
				if (m->rcpt[i].state != RS_DELIVERED && m->rcpt[i].state != RS_BOUNCED)
					log_err("%s: lost to=<%s>", m->id, m->rcpt[i].addr);
		}
		r->stale = xrealloc(r->stale, (r->nstale + 1) * sizeof *r->stale);
		r->stale[r->nstale++] = xstrdup(m->id);
		qmsg_free(m);
		r->dropped++;
		return;
	}
	store_add(m);
	r->loaded++;
}

static void drop_bad(const char *id, void *arg)
{
	/* The file (with its trailer) is still there: the directory scan re-indexes it. */
	qindex_del(id);
}

static int read_trailer(const char *path, struct qmsg *m)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	struct stat st;
	int r = -1;
	if (fstat(fd, &st) == 0 && st.st_size >= QTRAILER_FIXED) {
		size_t want = (size_t)st.st_size < 300000 ? (size_t)st.st_size : 300000;
		unsigned char *buf = xmalloc(want);
		if (pread(fd, buf, want, st.st_size - (off_t)want) == (ssize_t)want)
			r = qtrailer_parse(buf, want, (uint64_t)st.st_size, m);
		free(buf);
	}
	close(fd);
	return r;
}

/* A committed file without a record. If the index is intact, the commit was
 * interrupted before its record was durable, so the client was never told
 * "accepted" (it got a 451 or lost the connection, and may send again): the
 * message is kept but held, for the administrator to release or delete. When
 * the index itself was lost (or on `mailctl queue rebuild`) every file is
 * re-indexed as it was committed. */
static void scan_one(const char *id, struct recov *r, bool hold_orphans)
{
	if (store_get(id))
		return;
	char *p = spool_path("msg", id);
	struct qmsg m;
	if (queue_id_valid(id) && read_trailer(p, &m) == 0 && !strcmp(m.id, id)) {
		if (hold_orphans) {
			m.held = 1;
			log_warn("%s: spool file without index record (commit interrupted before it was "
				 "acknowledged): kept on hold, from=<%s> nrcpt=%u; `mailctl queue release "
				 "%s` delivers it, `mailctl queue delete %s` drops it", id, m.sender, m.nrcpt,
				 id, id);
			r->held++;
		} else {
			log_warn("%s: spool file without index record: re-indexed from its trailer, "
				 "from=<%s> nrcpt=%u", id, m.sender, m.nrcpt);
			r->reindexed++;
		}
		if (qindex_put(&m) < 0)
			log_err("%s: cannot index: %s", id, strerror(errno));
		store_add(&m);
	} else {
		char *q = spool_path("corrupt", id);
		log_err("%s: spool file without index record and without a readable envelope: "
			"moved to %s", id, q);
		if (rename(p, q) < 0)
			log_err("%s: rename: %s", id, strerror(errno));
		free(q);
		r->corrupt++;
	}
	free(p);
}

static void clean_incoming(void)
{
	char *d = xasprintf("%s/incoming", spool_dir);
	DIR *dir = opendir(d);
	unsigned n = 0;
	for (struct dirent *de; dir && (de = readdir(dir));) {
		if (de->d_name[0] == '.')
			continue;
		char *p = xasprintf("%s/%s", d, de->d_name);
		if (unlink(p) == 0)
			n++;
		free(p);
	}
	if (dir)
		closedir(dir);
	if (n)
		log_info("removed %u unacknowledged file(s) from incoming/", n);
	free(d);
}

static void finish_done(struct qent *e, void *arg)
{
	struct recov *r = arg;
	if (qmsg_done(&e->m) && !e->busy) {
		bounce_check(e, unix_now());	/* a report still owed goes out first */
		r->finished++;
		store_finish(e);
	}
}

int store_recover(bool at_start, char *summary, size_t len)
{
	struct recov r = { 0 };
	if (at_start)
		clean_incoming();
	if (qindex_each(load_one, drop_bad, &r) < 0)
		log_err("reading queue index: %s", strerror(errno));
	for (size_t i = 0; i < r.nstale; i++) {
		qindex_del(r.stale[i]);
		free(r.stale[i]);
	}
	free(r.stale);
	char *d = xasprintf("%s/msg", spool_dir);
	DIR *dir = opendir(d);
	if (!dir) {
		free(d);
		return -1;
	}
	for (struct dirent *de; (de = readdir(dir));)
		if (de->d_name[0] != '.')
			scan_one(de->d_name, &r, at_start && !qindex_created);
	closedir(dir);
	free(d);
	store_each(finish_done, &r);
	if (qindex_flush() < 0)	/* repairs are durable before anything else happens */
		log_err("queue index flush after recovery: %s", strerror(errno));
	snprintf(summary, len, "queue: %u message(s); %u loaded from the index, %u re-indexed "
		 "from spool files, %u interrupted commit(s) held, %u stale record(s) dropped, "
		 "%u unreadable file(s) moved to corrupt/",
		 store_count(), r.loaded, r.reindexed, r.held, r.dropped, r.corrupt);
	log_info("%s", summary);
	return 0;
}
