/* authcache.h — the front's memory of recently checked credentials, so that
 * every HTTP request (each carries its password) does not cost authd a
 * password hash. Keyed by an HMAC of user and password under a key made at
 * start (the passwords themselves are not kept); entries expire after
 * auth_cache_time. Only successes are kept: every failure goes to authd,
 * whose per-address penalty and lock-out apply as for IMAP. */
#ifndef TERN_HTTPD_AUTHCACHE_H
#define TERN_HTTPD_AUTHCACHE_H

#include <stdint.h>

#define AUTHCACHE_SLOTS 4096

void authcache_init(uint64_t ttl_s);
/* The canonical user these credentials were last accepted as, or NULL.
 * *token: the hand-off token authd gave then ("" once it has expired);
 * *host: the user's mailbox host when it is another host ("" here). */
const char *authcache_get(const char *user, const char *pass, const char **token,
			  const char **host);
void authcache_put(const char *user, const char *pass, const char *canon, const char *token,
		   const char *host);
/* Forget every entry of canon (its mail process refused the token). */
void authcache_forget(const char *canon);

#endif
