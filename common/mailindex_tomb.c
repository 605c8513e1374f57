/* mailindex_tomb.c — bounded expunge records of a folder index (see
 * mailindex_tomb.h). */
#include "common/mailindex_tomb.h"
#include "common/mailindex.h"
#include "common/log.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

struct tomb_meta {
	uint64_t floor;
	uint32_t count, pad;
};

static size_t tomb_max = MI_MAX_TOMBSTONES;

void mi_set_tombstone_limit(size_t max)
{
	tomb_max = max ? max : MI_MAX_TOMBSTONES;
}

static void set_dbt(DBT *d, const void *p, size_t n)
{
	memset(d, 0, sizeof *d);
	d->data = (void *)p;
	d->size = (u_int32_t)n;
}

static void tomb_key(unsigned char k[9], uint64_t modseq)
{
	k[0] = 'X';
	for (int i = 0; i < 8; i++)
		k[1 + i] = (unsigned char)(modseq >> (56 - 8 * i));
}

static bool is_tomb(const DBT *k)
{
	return k->size == 9 && ((const unsigned char *)k->data)[0] == 'X';
}

static uint64_t tomb_modseq(const DBT *k)
{
	const unsigned char *d = k->data;
	uint64_t m = 0;
	for (int i = 1; i < 9; i++)
		m = m << 8 | d[i];
	return m;
}

static uint32_t be32(const unsigned char *u)
{
	return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

/* Position c on the first record at or after modseq; 0 when there is one. */
static int tomb_seek(DBC *c, DBT *k, DBT *v, unsigned char start[9], uint64_t modseq)
{
	tomb_key(start, modseq);
	set_dbt(k, start, 9);
	memset(v, 0, sizeof *v);
	return c->get(c, k, v, DB_SET_RANGE) == 0 && is_tomb(k) ? 0 : -1;
}

static bool tomb_next(DBC *c, DBT *k, DBT *v)
{
	return c->get(c, k, v, DB_NEXT) == 0 && is_tomb(k);
}

/* The meta record; an index from before it existed has its records counted
 * once. */
static void tomb_load(DB *db, struct mi_tombs *t)
{
	if (t->loaded)
		return;
	t->loaded = true;
	DBT k, v;
	struct tomb_meta m;
	set_dbt(&k, "T", 1);
	set_dbt(&v, &m, sizeof m);
	v.flags = DB_DBT_USERMEM;
	v.ulen = sizeof m;
	if (db->get(db, NULL, &k, &v, 0) == 0 && v.size == sizeof m) {
		t->count = m.count;
		t->floor = m.floor;
		return;
	}
	DBC *c;
	unsigned char start[9];
	if (db->cursor(db, NULL, &c, 0) != 0)
		return;
	for (bool more = tomb_seek(c, &k, &v, start, 0) == 0; more; more = tomb_next(c, &k, &v))
		t->count++;
	c->close(c);
	t->dirty = true;
}

void tomb_save(DB *db, struct mi_tombs *t)
{
	if (!t->dirty)
		return;
	struct tomb_meta m = { t->floor, t->count, 0 };
	DBT k, v;
	set_dbt(&k, "T", 1);
	set_dbt(&v, &m, sizeof m);
	if (db->put(db, NULL, &k, &v, 0) == 0)
		t->dirty = false;
}

/* Drop the oldest records down to 4/5 of the limit. The new floor is
 * written first: a crash midway makes later answers too large, never short. */
static void tomb_prune(DB *db, struct mi_tombs *t, const char *dir)
{
	size_t keep = tomb_max - tomb_max / 5, drop = t->count - keep, i = 1;
	DBC *c;
	DBT k, v;
	unsigned char start[9];
	if (t->count <= tomb_max || db->cursor(db, NULL, &c, 0) != 0)
		return;
	bool more = tomb_seek(c, &k, &v, start, 0) == 0;
	for (; more && i < drop; i++)
		more = tomb_next(c, &k, &v);
	if (more) {
		t->floor = tomb_modseq(&k);
		t->dirty = true;
		tomb_save(db, t);
		for (more = tomb_seek(c, &k, &v, start, 0) == 0; more && tomb_modseq(&k) <= t->floor;
		     more = tomb_next(c, &k, &v)) {
			if (c->del(c, 0) == 0 && t->count)
				t->count--;
		}
		t->dirty = true;
		log_info("index: %s: expunge records up to modseq %llu pruned, %u kept", dir,
			 (unsigned long long)t->floor, t->count);
	}
	c->close(c);
}

void tomb_add(DB *db, struct mi_tombs *t, uint64_t modseq, uint32_t uid, const char *dir)
{
	tomb_load(db, t);
	unsigned char k[9], u[4] = { (unsigned char)(uid >> 24), (unsigned char)(uid >> 16),
				     (unsigned char)(uid >> 8), (unsigned char)uid };
	DBT dk, dv;
	tomb_key(k, modseq);
	set_dbt(&dk, k, 9);
	set_dbt(&dv, u, 4);
	if (db->put(db, NULL, &dk, &dv, 0) == 0) {
		t->count++;
		t->dirty = true;
	}
	tomb_prune(db, t, dir);
}

static void push(uint32_t **v, size_t *n, size_t *cap, uint32_t uid)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		*v = xrealloc(*v, *cap * sizeof **v);
	}
	(*v)[(*n)++] = uid;
}

/* Every UID below uidnext without a message record ("U" + uid), ascending. */
static size_t absent_uids(DB *db, uint32_t uidnext, uint32_t **uids)
{
	DBC *c;
	DBT k, v;
	size_t n = 0, cap = 0;
	uint32_t next = 1;	/* the lowest UID not yet accounted for */
	if (db->cursor(db, NULL, &c, 0) != 0)
		return 0;
	unsigned char start[5] = { 'U', 0, 0, 0, 0 };
	set_dbt(&k, start, 5);
	memset(&v, 0, sizeof v);
	int r = c->get(c, &k, &v, DB_SET_RANGE);
	for (;;) {
		bool rec = r == 0 && k.size == 5 && ((unsigned char *)k.data)[0] == 'U';
		uint32_t upto = rec ? be32((unsigned char *)k.data + 1) : uidnext;
		for (; next < upto && next < uidnext; next++)
			push(uids, &n, &cap, next);
		if (!rec)
			break;
		next = upto + 1;
		r = c->get(c, &k, &v, DB_NEXT);
	}
	c->close(c);
	return n;
}

size_t tomb_since(DB *db, struct mi_tombs *t, uint64_t modseq, uint32_t uidnext, uint32_t **uids)
{
	*uids = NULL;
	tomb_load(db, t);
	if (modseq < t->floor)	/* records after modseq were dropped */
		return absent_uids(db, uidnext, uids);
	DBC *c;
	DBT k, v;
	size_t n = 0, cap = 0;
	unsigned char start[9];
	if (db->cursor(db, NULL, &c, 0) != 0)
		return 0;
	for (bool more = tomb_seek(c, &k, &v, start, modseq + 1) == 0; more; more = tomb_next(c, &k, &v))
		if (v.size == 4)
			push(uids, &n, &cap, be32(v.data));
	c->close(c);
	return n;
}
