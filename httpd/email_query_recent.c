/* email_query_recent.c — the webmail's list (one folder, newest first, a
 * page) without loading the folder (see email_query.h).
 *
 * The full path (email_query.c) builds a row for every message of the
 * folder (every folder with collapseThreads): the journal's U records into
 * a JSON map, keywords, paths, header fields, then sorts them all, to
 * return 50 ids; 2.6 s for a 100,000-message folder. Here only the index
 * records' dates are read (receivedAt is the index's internal date, as in
 * the full path), sorted, and the journal is asked about the newest ones
 * one by one until position + limit ids are taken. UID order is not
 * trusted to be date order (APPEND and Email/import give any date), so the
 * dates of the whole folder are still read, but nothing else is.
 *
 * The order is the full path's exactly: receivedAt descending, equal dates
 * by id ascending (the EMAILID is the SHA-256 of the file's unique name,
 * objectid.h, so the ids of a group of equal dates come from the index
 * alone); a record the journal does not know yet (delivered after this
 * request's sync) is left out, as the full path leaves it out. The total is
 * the folder's count in the journal (emails, or threads when collapsed): the
 * number of U records, or of P records, the full path would have counted. */
#include "httpd/email_query.h"
#include "httpd/account.h"
#include "httpd/jmap_util.h"
#include "httpd/journal.h"
#include "httpd/sess.h"
#include "common/mailindex.h"
#include "common/objectid.h"
#include "common/util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dated {
	int64_t idate;
	uint32_t uid;
	char id[OBJECTID_LEN + 1];	/* filled for the equal-date groups walked */
	char *file;
};

static int newest_first(const void *pa, const void *pb)
{
	const struct dated *a = pa, *b = pb;
	return a->idate > b->idate ? -1 : a->idate < b->idate;
}

static int by_id(const void *pa, const void *pb)
{
	return strcmp(((const struct dated *)pa)->id, ((const struct dated *)pb)->id);
}

/* The folder's messages sorted newest first (equal dates not yet by id);
 * NULL when the index cannot be read. */
static struct dated *folder_dates(const struct folder *f, size_t *n)
{
	char why[256];
	struct mi *mi = mi_open(f->dir, NULL, NULL, why, sizeof why);
	if (!mi)
		return NULL;
	struct mi_rec *recs;
	if (mi_load(mi, &recs, n) < 0) {
		mi_close(mi);
		return NULL;
	}
	mi_close(mi);
	struct dated *d = xcalloc(*n + 1, sizeof *d);
	for (size_t i = 0; i < *n; i++) {
		d[i] = (struct dated){ .idate = recs[i].idate, .uid = recs[i].uid,
				       .file = recs[i].file };
		recs[i].file = NULL;
	}
	mi_recs_free(recs, *n);
	qsort(d, *n, sizeof *d, newest_first);
	return d;
}

struct walk {
	struct journal *j;
	const struct folder *f;
	bool collapse;
	size_t want;
	json_t *ids, *threads;	/* threads taken (collapseThreads) */
};

/* Take d (the next message in the result's order) if the journal knows it
 * and, collapsed, its thread is not in the list yet. */
static void take(struct walk *w, const struct dated *d)
{
	char key[OBJECTID_LEN + 16], id[OBJECTID_LEN + 1], thread[OBJECTID_LEN + 1];
	snprintf(key, sizeof key, "U%s:%08" PRIx32, w->f->id, d->uid);
	char *v = journal_get(w->j, key);
	bool known = v && sscanf(v, "%25s %25s", id, thread) == 2;
	free(v);
	if (!known || (w->collapse && json_object_get(w->threads, thread)))
		return;
	json_object_set_new(w->threads, thread, json_true());
	json_array_append_new(w->ids, json_string(id));
}

/* The first w->want ids of the result, group of equal dates by group. */
static void walk_newest(struct walk *w, struct dated *d, size_t n)
{
	for (size_t i = 0; i < n && json_array_size(w->ids) < w->want;) {
		size_t g = i + 1;
		while (g < n && d[g].idate == d[i].idate)
			g++;
		for (size_t k = i; k < g; k++)
			objectid_email(d[k].file, d[k].id);
		qsort(d + i, g - i, sizeof *d, by_id);
		for (; i < g && json_array_size(w->ids) < w->want; i++)
			take(w, &d[i]);
		i = g;
	}
}

/* Is this query one the walk answers: filter {inMailbox} of a known folder,
 * sort receivedAt descending (or none: the same default), a position from
 * the start and a limit, no anchor? The folder, else NULL. */
static const struct folder *recent_folder(struct jcall *c, json_t *args, size_t *want)
{
	json_t *flt = json_object_get(args, "filter"), *sort = json_object_get(args, "sort");
	json_t *pos = json_object_get(args, "position"), *lim = json_object_get(args, "limit");
	json_t *anchor = json_object_get(args, "anchor");
	if (!json_is_object(flt) || json_object_size(flt) != 1 || (anchor && !json_is_null(anchor)))
		return NULL;
	if (sort && !json_is_null(sort)) {
		json_t *k = json_array_get(sort, 0);
		const char *p = json_string_value(json_object_get(k, "property"));
		if (json_array_size(sort) != 1 || json_object_size(k) != 2 || !p ||
		    strcmp(p, "receivedAt") || !json_is_false(json_object_get(k, "isAscending")))
			return NULL;
	}
	if ((pos && !json_is_null(pos) && (!json_is_integer(pos) || json_integer_value(pos) < 0)) ||
	    !json_is_integer(lim) || json_integer_value(lim) < 0)
		return NULL;
	const char *mbox = json_string_value(json_object_get(flt, "inMailbox"));
	const struct folder *f = mbox ? account_folder(&c->s->acct, mbox) : NULL;
	if (!f)
		return NULL;	/* the full path answers an unknown folder */
	uint64_t end = (uint64_t)json_integer_value(pos) + (uint64_t)json_integer_value(lim);
	*want = end > f->total ? f->total : (size_t)end;
	return f;
}

bool email_query_recent(struct jcall *c, json_t *args)
{
	size_t want, n;
	const struct folder *f = recent_folder(c, args, &want);
	struct dated *d = f ? folder_dates(f, &n) : NULL;
	if (!d)
		return false;
	struct walk w = { journal_open(false), f, json_is_true(json_object_get(args, "collapseThreads")),
			  want, json_array(), json_object() };
	if (w.j)
		walk_newest(&w, d, n);
	for (size_t i = 0; i < n; i++)
		free(d[i].file);
	free(d);
	bool ok = w.j != NULL;
	journal_close(w.j);
	if (ok) {
		char *state = jmap_type_state("Email");
		jmap_query_window_of(c, args, w.ids, w.collapse ? f->threads : f->total, state, true);
		free(state);
	}
	json_decref(w.ids);
	json_decref(w.threads);
	return ok;
}
