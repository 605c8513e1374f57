/* ratelimit.h — failed-login accounting, one table per kind of key: client
 * addresses and user names (handle_login.c keeps one of each).
 *
 * Each failure is counted against its key; a key's failures are forgotten once
 * window_ms pass without a new one, or by rl_forget (a success). The answer to
 * a failure waits the key's penalty: nothing for the first free_failures, then
 * delay_ms, doubling with each further failure up to max_delay_ms (as
 * Dovecot's auth penalty). After max_failures a key is locked for lockout_ms
 * (its logins are refused without checking the password); max_failures 0
 * never locks (user names: an attacker must not lock the real user out, only
 * be slowed).
 *
 * Memory is bounded: at most max_entries keys; when full, expired entries go
 * first, then the least recently failed. With by_address, an IPv6 client
 * counts as its /64 and an IPv4-mapped one as its IPv4 address. Time is passed
 * in (milliseconds, monotonic) so tests can drive it; rl_save/rl_load carry the
 * state across a restart in wall-clock time. */
#ifndef TERN_AUTHD_RATELIMIT_H
#define TERN_AUTHD_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RL_KEY_MAX 64	/* longer keys are cut (an IPv6 address fits) */

struct rl_policy {
	unsigned max_failures;		/* lock at this count; 0 = never */
	unsigned free_failures;		/* failures without a penalty */
	uint64_t window_ms;
	uint64_t lockout_ms;
	uint64_t delay_ms, max_delay_ms;
	bool by_address;
};

struct ratelimit;

struct ratelimit *rl_new(const struct rl_policy *p, size_t max_entries);
void rl_free(struct ratelimit *rl);
/* Change the policy (reload); tracked keys are kept. */
void rl_configure(struct ratelimit *rl, const struct rl_policy *p);
/* True while key is locked out. */
bool rl_locked(struct ratelimit *rl, const char *key, uint64_t now);
/* Record a failure; returns the failures counted for key so far. */
unsigned rl_failure(struct ratelimit *rl, const char *key, uint64_t now);
/* How long the answer to key's latest failure waits (0 below free_failures). */
uint64_t rl_penalty(struct ratelimit *rl, const char *key, uint64_t now);
/* A success: key starts afresh. */
void rl_forget(struct ratelimit *rl, const char *key);
size_t rl_count(const struct ratelimit *rl);
/* The key rl counts client under (by address: an IPv6 one as its /64). */
void rl_key(const struct ratelimit *rl, const char *client, char out[RL_KEY_MAX + 1]);

/* One line per live key ("TAG key failures last locked_until", times in ms of
 * the wall clock); mono_now and wall_now are the two clocks read together. */
void rl_save(struct ratelimit *rl, FILE *f, char tag, uint64_t mono_now, uint64_t wall_now);
/* Take one saved line of this tag (others are ignored); false if malformed. */
bool rl_load_line(struct ratelimit *rl, const char *line, char tag, uint64_t mono_now,
		  uint64_t wall_now);

#endif
