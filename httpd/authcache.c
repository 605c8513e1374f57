/* authcache.c — recently accepted credentials (see authcache.h). */
#include "httpd/authcache.h"
#include "common/auth_client.h"
#include "common/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct slot {
	unsigned char key[32];
	char *canon, *token, *host;
	int64_t token_expiry;	/* unix seconds, from the token */
	uint64_t expires;	/* now_ms() */
};

static struct slot slots[AUTHCACHE_SLOTS];
static unsigned char hkey[32];
static uint64_t ttl_ms;

void authcache_init(uint64_t ttl_s)
{
	if (RAND_bytes(hkey, sizeof hkey) != 1)
		fatal("no random bytes for the credential cache");
	ttl_ms = ttl_s * 1000;
}

static void digest(const char *user, const char *pass, unsigned char out[32])
{
	size_t ul = strlen(user), pl = strlen(pass);
	unsigned char *buf = xmalloc(ul + 1 + pl);
	unsigned len = 32;
	memcpy(buf, user, ul + 1);	/* the NUL keeps "a"+"bc" apart from "ab"+"c" */
	memcpy(buf + ul + 1, pass, pl);
	if (!HMAC(EVP_sha256(), hkey, sizeof hkey, buf, ul + 1 + pl, out, &len))
		fatal("HMAC failed");
	explicit_bzero(buf, ul + 1 + pl);
	free(buf);
}

static void clear(struct slot *s)
{
	free(s->canon);
	free(s->token);
	free(s->host);
	memset(s, 0, sizeof *s);
}

static struct slot *slot_for(const unsigned char key[32])
{
	uint32_t i;
	memcpy(&i, key, sizeof i);
	return &slots[i % AUTHCACHE_SLOTS];
}

/* The expiry written after the last '.' of a token; 0 when none. */
static int64_t token_expiry(const char *token)
{
	const char *dot = strrchr(token, '.');
	uint64_t v;
	return dot && parse_u64(dot + 1, INT64_MAX, &v) ? (int64_t)v : 0;
}

const char *authcache_get(const char *user, const char *pass, const char **token,
			  const char **host)
{
	unsigned char key[32];
	if (ttl_ms == 0)
		return NULL;
	digest(user, pass, key);
	struct slot *s = slot_for(key);
	if (!s->canon || CRYPTO_memcmp(s->key, key, sizeof key) != 0)
		return NULL;
	if (now_ms() >= s->expires) {
		clear(s);
		return NULL;
	}
	*token = (int64_t)time(NULL) < s->token_expiry ? s->token : "";
	*host = s->host;
	return s->canon;
}

void authcache_put(const char *user, const char *pass, const char *canon, const char *token,
		   const char *host)
{
	unsigned char key[32];
	if (ttl_ms == 0)
		return;
	digest(user, pass, key);
	struct slot *s = slot_for(key);
	clear(s);
	memcpy(s->key, key, sizeof key);
	s->canon = xstrdup(canon);
	s->token = xstrdup(token);
	s->host = xstrdup(host);
	s->token_expiry = token_expiry(token);
	s->expires = now_ms() + ttl_ms;
}

void authcache_forget(const char *canon)
{
	for (size_t i = 0; i < AUTHCACHE_SLOTS; i++)
		if (slots[i].canon && !strcmp(slots[i].canon, canon))
			clear(&slots[i]);
}
