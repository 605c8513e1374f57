/* pass_cache.c — recently verified passwords (pass_cache.h).
 *
 * Only successes are kept, and not the password: an entry is
 * HMAC-SHA256(key, stored hash NUL password) under a key drawn at random when
 * the process starts, with its expiry. A lookup recomputes the MAC, so a wrong
 * password, another user, or a changed password (a new hash, a new salt) never
 * matches and goes to the slow check as before; a failure costs what it cost.
 * What the table weakens: someone who can read authd's memory could test
 * guesses of a recently used password at HMAC speed rather than yescrypt's, so
 * the table is excluded from core dumps and kept out of swap where the limits
 * allow, and entries live ttl (authd.conf password_cache_ttl; 0 turns it off).
 *
 * Direct-mapped (a slot from the MAC's first bytes; a collision replaces the
 * older entry), one mutex: authd checks passwords on several threads. */
#include "common/pass_cache.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>

#define MAC_LEN 32

struct slot {
	unsigned char mac[MAC_LEN];
	uint64_t expires;	/* 0: empty */
};

/* Page-aligned so madvise can exclude it from core dumps. */
static struct {
	struct slot slots[PASS_CACHE_SLOTS];
	unsigned char key[32];
} table __attribute__((aligned(4096)));

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t ttl;
static bool keyed;

static void wipe_locked(void)
{
	explicit_bzero(&table, sizeof table);
	keyed = false;
}

void pass_cache_configure(uint64_t ttl_ms)
{
	pthread_mutex_lock(&lock);
	if (ttl_ms && !keyed) {
		size_t got = 0;
		while (got < sizeof table.key) {
			ssize_t n = getrandom(table.key + got, sizeof table.key - got, 0);
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		if (got == sizeof table.key) {
			(void)madvise(&table, sizeof table, MADV_DONTDUMP);
			(void)mlock(&table, sizeof table);
			keyed = true;
		}
	}
	ttl = keyed ? ttl_ms : 0;
	if (!ttl)
		wipe_locked();
	pthread_mutex_unlock(&lock);
}

static bool mac_of(const char *password, const char *hash, unsigned char *mac)
{
	unsigned char buf[2048];	/* USERDB_MAX_HASH + 1 + USERDB_MAX_PASSWORD fit */
	size_t hl = strlen(hash), pl = strlen(password);
	if (hl + 1 + pl > sizeof buf)
		return false;
	memcpy(buf, hash, hl + 1);
	memcpy(buf + hl + 1, password, pl);
	unsigned int len = 0;
	bool ok = HMAC(EVP_sha256(), table.key, sizeof table.key, buf, hl + 1 + pl, mac, &len) &&
		  len == MAC_LEN;
	explicit_bzero(buf, hl + 1 + pl);
	return ok;
}

static struct slot *slot_of(const unsigned char *mac)
{
	uint32_t i = (uint32_t)mac[0] | (uint32_t)mac[1] << 8 | (uint32_t)mac[2] << 16;
	return &table.slots[i % PASS_CACHE_SLOTS];
}

bool pass_cache_hit(const char *password, const char *hash, uint64_t now)
{
	unsigned char mac[MAC_LEN];
	bool hit = false;
	pthread_mutex_lock(&lock);
	if (ttl && mac_of(password, hash, mac)) {
		struct slot *s = slot_of(mac);
		hit = s->expires > now && CRYPTO_memcmp(s->mac, mac, MAC_LEN) == 0;
		if (s->expires && s->expires <= now)
			explicit_bzero(s, sizeof *s);
	}
	pthread_mutex_unlock(&lock);
	explicit_bzero(mac, sizeof mac);
	return hit;
}

void pass_cache_add(const char *password, const char *hash, uint64_t now)
{
	unsigned char mac[MAC_LEN];
	pthread_mutex_lock(&lock);
	if (ttl && mac_of(password, hash, mac)) {
		struct slot *s = slot_of(mac);
		memcpy(s->mac, mac, MAC_LEN);
		s->expires = now + ttl;
	}
	pthread_mutex_unlock(&lock);
	explicit_bzero(mac, sizeof mac);
}
