/* ratelimit.c — failed-login accounting: a small chained hash table of client
 * addresses with their failure count, window start and lockout end. */
#include "authd/ratelimit.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RL_BUCKETS 1024

struct rl_entry {
	struct rl_entry *next;
	char key[RL_KEY_MAX + 1];
	unsigned failures;
	uint64_t window_start;
	uint64_t locked_until;	/* 0: not locked */
	uint64_t last;		/* last failure, for eviction */
};

struct ratelimit {
	unsigned max_failures;
	uint64_t window_ms, lockout_ms;
	size_t max_entries, count;
	struct rl_entry *bucket[RL_BUCKETS];
};

struct ratelimit *rl_new(unsigned max_failures, uint64_t window_ms, uint64_t lockout_ms,
			 size_t max_entries)
{
	struct ratelimit *rl = xcalloc(1, sizeof *rl);
	rl_configure(rl, max_failures, window_ms, lockout_ms);
	rl->max_entries = max_entries ? max_entries : 1;
	return rl;
}

void rl_configure(struct ratelimit *rl, unsigned max_failures, uint64_t window_ms,
		  uint64_t lockout_ms)
{
	rl->max_failures = max_failures ? max_failures : 1;
	rl->window_ms = window_ms;
	rl->lockout_ms = lockout_ms;
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
static void cut_key(const char *client, char out[RL_KEY_MAX + 1])
{
	struct in6_addr a6;
	if (client && inet_pton(AF_INET6, client, &a6) == 1) {
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
	strlcpy_t(out, client && *client ? client : "-", RL_KEY_MAX + 1);
}

static bool expired(const struct ratelimit *rl, const struct rl_entry *e, uint64_t now)
{
	return now >= e->locked_until && now - e->window_start >= rl->window_ms;
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

bool rl_locked(struct ratelimit *rl, const char *client, uint64_t now)
{
	char key[RL_KEY_MAX + 1];
	cut_key(client, key);
	struct rl_entry *e = find(rl, key);
	return e && e->locked_until && now < e->locked_until;
}

unsigned rl_failure(struct ratelimit *rl, const char *client, uint64_t now)
{
	char key[RL_KEY_MAX + 1];
	cut_key(client, key);
	struct rl_entry *e = find(rl, key);
	if (e && expired(rl, e, now)) {
		e->failures = 0;
		e->locked_until = 0;
		e->window_start = now;
	}
	if (!e) {
		if (rl->count >= rl->max_entries)
			evict(rl, now);
		e = xcalloc(1, sizeof *e);
		memcpy(e->key, key, sizeof key);
		e->window_start = now;
		size_t h = hash(key);
		e->next = rl->bucket[h];
		rl->bucket[h] = e;
		rl->count++;
	}
	e->last = now;
	if (e->failures < UINT32_MAX)
		e->failures++;
	if (e->failures >= rl->max_failures)
		e->locked_until = now + rl->lockout_ms;
	return e->failures;
}
