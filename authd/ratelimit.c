/* ratelimit.c — failed-login accounting: a small chained hash table of keys
 * with their failure count, last failure and lockout end. */
#include "authd/ratelimit.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define RL_BUCKETS 1024

struct rl_entry {
	struct rl_entry *next;
	char key[RL_KEY_MAX + 1];
	unsigned failures;
	uint64_t last;		/* last failure */
	uint64_t locked_until;	/* 0: not locked */
};

struct ratelimit {
	struct rl_policy p;
	size_t max_entries, count;
	struct rl_entry *bucket[RL_BUCKETS];
};

struct ratelimit *rl_new(const struct rl_policy *p, size_t max_entries)
{
	struct ratelimit *rl = xcalloc(1, sizeof *rl);
	rl_configure(rl, p);
	rl->max_entries = max_entries ? max_entries : 1;
	return rl;
}

void rl_configure(struct ratelimit *rl, const struct rl_policy *p)
{
	rl->p = *p;
}

void rl_free(struct ratelimit *rl)
{
	if (!rl)
		return;
	for (size_t i = 0; i < RL_BUCKETS; i++) {
		for (struct rl_entry *e = rl->bucket[i], *n; e; e = n) {
			n = e->next;
			free(e);
		}
	}
	free(rl);
}

size_t rl_count(const struct ratelimit *rl)
{
	return rl->count;
}

/* FNV-1a over the (cut) key. */
static size_t hash(const char *key)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; key[i] && i < RL_KEY_MAX; i++)
		h = (h ^ (unsigned char)key[i]) * 16777619u;
	return h % RL_BUCKETS;
}

/* The key of a client: an IPv6 address counts as its /64 (one subscriber
 * usually has a whole /64 to rotate through), an IPv4-mapped one as the IPv4
 * address; anything else as given (cut to RL_KEY_MAX). */
static void cut_key(const struct ratelimit *rl, const char *key, char out[RL_KEY_MAX + 1])
{
	struct in6_addr a6;
	if (rl->p.by_address && key && inet_pton(AF_INET6, key, &a6) == 1) {
		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			inet_ntop(AF_INET, &a6.s6_addr[12], out, RL_KEY_MAX + 1);
			return;
		}
		memset(&a6.s6_addr[8], 0, 8);
		char buf[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &a6, buf, sizeof buf);
		snprintf(out, RL_KEY_MAX + 1, "%s/64", buf);
		return;
	}
	strlcpy_t(out, key && *key ? key : "-", RL_KEY_MAX + 1);
}

static bool expired(const struct ratelimit *rl, const struct rl_entry *e, uint64_t now)
{
	return now >= e->locked_until && now - e->last >= rl->p.window_ms;
}

static struct rl_entry *find(struct ratelimit *rl, const char *key)
{
	for (struct rl_entry *e = rl->bucket[hash(key)]; e; e = e->next)
		if (!strcmp(e->key, key))
			return e;
	return NULL;
}

static void unlink_entry(struct ratelimit *rl, struct rl_entry *victim)
{
	struct rl_entry **pp = &rl->bucket[hash(victim->key)];
	while (*pp != victim)
		pp = &(*pp)->next;
	*pp = victim->next;
	free(victim);
	rl->count--;
}

/* Make room: drop every expired entry; if none, the least recently failed. */
static void evict(struct ratelimit *rl, uint64_t now)
{
	struct rl_entry *oldest = NULL;
	for (size_t i = 0; i < RL_BUCKETS; i++) {
		for (struct rl_entry **pp = &rl->bucket[i]; *pp;) {
			struct rl_entry *e = *pp;
			if (expired(rl, e, now)) {
				*pp = e->next;
				free(e);
				rl->count--;
				continue;
			}
			if (!oldest || e->last < oldest->last)
				oldest = e;
			pp = &e->next;
		}
	}
	if (rl->count >= rl->max_entries && oldest)
		unlink_entry(rl, oldest);
}

/* The live entry of key (a forgotten one is dropped), or NULL. */
static struct rl_entry *live(struct ratelimit *rl, const char *key, uint64_t now)
{
	struct rl_entry *e = find(rl, key);
	if (e && expired(rl, e, now)) {
		unlink_entry(rl, e);
		e = NULL;
	}
	return e;
}

static struct rl_entry *add(struct ratelimit *rl, const char *key, uint64_t now)
{
	if (rl->count >= rl->max_entries)
		evict(rl, now);
	struct rl_entry *e = xcalloc(1, sizeof *e);
	strlcpy_t(e->key, key, sizeof e->key);
	size_t h = hash(key);
	e->next = rl->bucket[h];
	rl->bucket[h] = e;
	rl->count++;
	return e;
}

void rl_key(const struct ratelimit *rl, const char *client, char out[RL_KEY_MAX + 1])
{
	cut_key(rl, client, out);
}

bool rl_locked(struct ratelimit *rl, const char *key, uint64_t now)
{
	char k[RL_KEY_MAX + 1];
	cut_key(rl, key, k);
	struct rl_entry *e = find(rl, k);
	return e && e->locked_until && now < e->locked_until;
}

unsigned rl_failure(struct ratelimit *rl, const char *key, uint64_t now)
{
	char k[RL_KEY_MAX + 1];
	cut_key(rl, key, k);
	struct rl_entry *e = live(rl, k, now);
	if (!e)
		e = add(rl, k, now);
	e->last = now;
	if (e->failures < UINT32_MAX)
		e->failures++;
	if (rl->p.max_failures && e->failures >= rl->p.max_failures)
		e->locked_until = now + rl->p.lockout_ms;
	return e->failures;
}

uint64_t rl_penalty(struct ratelimit *rl, const char *key, uint64_t now)
{
	char k[RL_KEY_MAX + 1];
	cut_key(rl, key, k);
	struct rl_entry *e = live(rl, k, now);
	if (!e || e->failures <= rl->p.free_failures)
		return 0;
	unsigned doublings = e->failures - rl->p.free_failures - 1;
	uint64_t d = rl->p.delay_ms;
	while (doublings-- && d < rl->p.max_delay_ms)
		d *= 2;
	return d < rl->p.max_delay_ms ? d : rl->p.max_delay_ms;
}

void rl_forget(struct ratelimit *rl, const char *key)
{
	char k[RL_KEY_MAX + 1];
	cut_key(rl, key, k);
	struct rl_entry *e = find(rl, k);
	if (e)
		unlink_entry(rl, e);
}

/* Keys are written as one word: those with spaces or controls stay behind. */
static bool savable(const char *key)
{
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

void rl_save(struct ratelimit *rl, FILE *f, char tag, uint64_t mono_now, uint64_t wall_now)
{
	for (size_t i = 0; i < RL_BUCKETS; i++) {
		for (struct rl_entry *e = rl->bucket[i]; e; e = e->next) {
			if (expired(rl, e, mono_now) || !savable(e->key))
				continue;
			uint64_t last = wall_now - (mono_now - e->last);
			uint64_t until = e->locked_until > mono_now
						 ? wall_now + (e->locked_until - mono_now) : 0;
			fprintf(f, "%c %s %u %" PRIu64 " %" PRIu64 "\n", tag, e->key, e->failures, last,
				until);
		}
	}
}

bool rl_load_line(struct ratelimit *rl, const char *line, char tag, uint64_t mono_now,
		  uint64_t wall_now)
{
	char key[RL_KEY_MAX + 1], t;
	unsigned failures;
	uint64_t last, until;
	if (sscanf(line, "%c %64s %u %" SCNu64 " %" SCNu64, &t, key, &failures, &last, &until) != 5)
		return false;
	if (t != tag)
		return true;
	/* Wall-clock times back onto the monotonic clock; a failure from before
	 * this boot's clock start counts as at its start. */
	uint64_t age = wall_now > last ? wall_now - last : 0;
	struct rl_entry *e = find(rl, key);
	if (!e)
		e = add(rl, key, mono_now);
	e->failures = failures;
	e->last = age < mono_now ? mono_now - age : 0;
	e->locked_until = until > wall_now ? mono_now + (until - wall_now) : 0;
	if (expired(rl, e, mono_now))
		unlink_entry(rl, e);
	return true;
}
