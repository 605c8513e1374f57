/* pass_cache.h — passwords checked right recently, so that a client logging in
 * again and again (a phone polling, imaptest's stress mix) pays the slow hash
 * once per ttl rather than at every login. authd only (mailctl leaves it off). */
#ifndef TERN_PASS_CACHE_H
#define TERN_PASS_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#define PASS_CACHE_SLOTS 1024

/* Keep entries for ttl_ms (0: off, and everything kept is wiped). */
void pass_cache_configure(uint64_t ttl_ms);
/* Was password found to match hash (the directory's stored hash, so a password
 * change misses) within the ttl before now? */
bool pass_cache_hit(const char *password, const char *hash, uint64_t now);
/* password matched hash at now. */
void pass_cache_add(const char *password, const char *hash, uint64_t now);

#endif
