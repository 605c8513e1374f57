/* dmarc_report.c — aggregation of DMARC records into reports and rows, the
 * report file name and rua URIs (see dmarc_report.h). */
#include "mailctl/dmarc_report.h"
#include "common/util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One hash table for both lookups: "\1DOMAIN" -> report, row key -> row. */
struct agg_slot {
	char *key;
	size_t rep, row;
};

void dmarc_agg_init(struct dmarc_agg *a)
{
	memset(a, 0, sizeof *a);
}

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct agg_slot *lookup(struct dmarc_agg *a, const char *key)
{
	size_t i = hash(key) & (a->nslots - 1);
	while (a->slots[i].key && strcmp(a->slots[i].key, key))
		i = (i + 1) & (a->nslots - 1);
	return &a->slots[i];
}

static void grow(struct dmarc_agg *a)
{
	if (a->nslots && a->used * 2 < a->nslots)
		return;
	struct agg_slot *old = a->slots;
	size_t n = a->nslots;
	a->nslots = n ? n * 2 : 1024;
	a->slots = xcalloc(a->nslots, sizeof *a->slots);
	for (size_t i = 0; i < n; i++)
		if (old[i].key)
			*lookup(a, old[i].key) = old[i];
	free(old);
}

/* What makes two records one row: everything but time and the policy
 * published (which belongs to the report), as one string. */
static char *row_key(const struct dmarc_record *r)
{
	struct dmarc_record k = *r;
	k.time = 0;
	k.p = k.sp = DMARC_P_NONE;
	k.pct = 100;
	k.adkim = k.aspf = 'r';
	strcpy(k.fo, "0");
	k.rua[0] = '\0';
	return dmarc_record_format(&k);
}

static size_t report_for(struct dmarc_agg *a, const struct dmarc_record *r)
{
	char *key = xasprintf("\1%s", r->policy_domain);
	grow(a);
	struct agg_slot *s = lookup(a, key);
	if (s->key) {
		free(key);
		return s->rep;
	}
	if (a->nreps == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 16;
		a->reps = xrealloc(a->reps, a->cap * sizeof *a->reps);
	}
	struct dmarc_report *rep = &a->reps[a->nreps];
	memset(rep, 0, sizeof *rep);
	snprintf(rep->domain, sizeof rep->domain, "%s", r->policy_domain);
	rep->begin = rep->end = r->time;
	rep->latest = *r;
	s->key = key;
	s->rep = a->nreps;
	a->used++;
	return a->nreps++;
}

void dmarc_agg_add(struct dmarc_agg *a, const struct dmarc_record *r)
{
	char *key = row_key(r);
	if (!key)
		return;
	size_t ri = report_for(a, r);
	struct dmarc_report *rep = &a->reps[ri];
	if (r->time < rep->begin)
		rep->begin = r->time;
	if (r->time >= rep->end) {
		rep->end = r->time;
		rep->latest = *r;
	}
	grow(a);
	struct agg_slot *s = lookup(a, key);
	if (s->key) {
		rep->rows[s->row].count++;
		rep->messages++;
		free(key);
		return;
	}
	if (a->rows >= DMARC_AGG_MAX_ROWS) {
		a->dropped++;
		free(key);
		return;
	}
	if (rep->nrows == rep->cap) {
		rep->cap = rep->cap ? rep->cap * 2 : 8;
		rep->rows = xrealloc(rep->rows, rep->cap * sizeof *rep->rows);
	}
	rep->rows[rep->nrows].rec = *r;
	rep->rows[rep->nrows].count = 1;
	s->key = key;
	s->rep = ri;
	s->row = rep->nrows++;
	rep->messages++;
	a->used++;
	a->rows++;
}

void dmarc_agg_free(struct dmarc_agg *a)
{
	for (size_t i = 0; i < a->nslots; i++)
		free(a->slots[i].key);
	free(a->slots);
	for (size_t i = 0; i < a->nreps; i++)
		free(a->reps[i].rows);
	free(a->reps);
	memset(a, 0, sizeof *a);
}

char *dmarc_report_filename(const char *receiver, const char *domain, uint64_t begin,
			    uint64_t end, const char *unique)
{
	return xasprintf("%s!%s!%llu!%llu!%s.xml.gz", receiver, domain, (unsigned long long)begin,
			 (unsigned long long)end, unique);
}

/* An address we are willing to hand to the queue: local@domain, no spaces,
 * no angle brackets or quoting, no percent-encoding left. */
static bool address_ok(const char *a)
{
	const char *at = strrchr(a, '@');
	if (!at || at == a || !at[1] || strlen(a) > 254)
		return false;
	for (const char *p = a; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f || strchr("<>\"(),;:\\[]%", *p))
			return false;
	return true;
}

bool dmarc_rua_parse(const char *uri, char *addr, size_t len, uint64_t *limit)
{
	*limit = 0;
	if (strncasecmp(uri, "mailto:", 7))
		return false;
	const char *a = uri + 7, *bang = strchr(a, '!');
	size_t n = bang ? (size_t)(bang - a) : strlen(a);
	if (n == 0 || n >= len)
		return false;
	memcpy(addr, a, n);
	addr[n] = '\0';
	if (!address_ok(addr))
		return false;
	if (bang) {
		/* size = 1*DIGIT [ "k" / "m" / "g" / "t" ] (RFC 7489 6.2) */
		const char *p = bang + 1;
		uint64_t v = 0;
		if (!isdigit((unsigned char)*p))
			return false;
		for (; isdigit((unsigned char)*p); p++) {
			if (v > UINT64_MAX / 20)
				return false;
			v = v * 10 + (uint64_t)(*p - '0');
		}
		static const char units[] = "kmgt";
		const char *u = *p ? strchr(units, tolower((unsigned char)*p)) : NULL;
		if (*p && (!u || p[1]))
			return false;
		for (int i = 0; u && i <= u - units; i++) {
			if (v > UINT64_MAX / 1024)
				return false;
			v *= 1024;
		}
		*limit = v;
	}
	return true;
}
