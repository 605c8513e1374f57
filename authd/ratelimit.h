/* ratelimit.h — failed-login accounting per client address. After max_failures
 * failures within window_ms, a client is locked out for lockout_ms: its logins
 * are refused (AUTH_LOCKED) without checking the password. Memory is bounded:
 * at most max_entries clients are tracked; when full, expired entries go first,
 * then the oldest. An IPv6 client counts as its /64. Time is passed in (milliseconds) so tests can drive it. */
#ifndef TERN_AUTHD_RATELIMIT_H
#define TERN_AUTHD_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RL_KEY_MAX 64	/* longer client names are cut (an IPv6 address fits) */

struct ratelimit;

struct ratelimit *rl_new(unsigned max_failures, uint64_t window_ms, uint64_t lockout_ms,
			 size_t max_entries);
void rl_free(struct ratelimit *rl);
/* Change the limits (reload); tracked clients are kept. */
void rl_configure(struct ratelimit *rl, unsigned max_failures, uint64_t window_ms,
		  uint64_t lockout_ms);
/* True while client is locked out. */
bool rl_locked(struct ratelimit *rl, const char *client, uint64_t now);
/* Record a failure; returns the failures counted in the current window (the
 * client is locked once it reaches max_failures). */
unsigned rl_failure(struct ratelimit *rl, const char *client, uint64_t now);
size_t rl_count(const struct ratelimit *rl);

#endif
