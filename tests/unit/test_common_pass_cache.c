/* Unit tests: the cache of recently verified passwords (common/pass_cache.c)
 * and its use by userdb_hash_matches. */
#include "common/pass_cache.h"
#include "common/userdb.h"
#include "tests/unit/check.h"

#include <crypt.h>
#include <stdio.h>
#include <string.h>

static const char *H1 = "$y$j9T$salt1$not-a-real-hash-one";
static const char *H2 = "$y$j9T$salt2$not-a-real-hash-two";

static void test_off_by_default(void)
{
	pass_cache_add("pw", H1, 100);
	CHECK(!pass_cache_hit("pw", H1, 101));
}

static void test_hits_and_misses(void)
{
	pass_cache_configure(1000);
	CHECK(!pass_cache_hit("pw", H1, 100));
	pass_cache_add("pw", H1, 100);
	CHECK(pass_cache_hit("pw", H1, 500));
	CHECK(pass_cache_hit("pw", H1, 1099));
	CHECK(!pass_cache_hit("pW", H1, 500));	/* another password */
	CHECK(!pass_cache_hit("pw", H2, 500));	/* the stored hash changed */
	CHECK(!pass_cache_hit("", H1, 500));
	CHECK(!pass_cache_hit("pw", H1, 1100));	/* expired */
	CHECK(!pass_cache_hit("pw", H1, 600));	/* and gone */
	/* The MAC is over hash NUL password: moving bytes across the NUL
	 * makes another key. */
	pass_cache_add("bc", "a", 100);
	CHECK(pass_cache_hit("bc", "a", 200));
	CHECK(!pass_cache_hit("c", "ab", 200));
	/* Turning it off wipes everything; on again, a new key. */
	pass_cache_add("pw", H1, 100);
	pass_cache_configure(0);
	CHECK(!pass_cache_hit("pw", H1, 200));
	pass_cache_configure(1000);
	CHECK(!pass_cache_hit("pw", H1, 200));
	/* Many entries: a collision replaces, never confuses. */
	char pw[32];
	for (int i = 0; i < 3 * PASS_CACHE_SLOTS; i++) {
		snprintf(pw, sizeof pw, "pw%d", i);
		pass_cache_add(pw, H1, 100);
	}
	int hits = 0;
	for (int i = 0; i < 3 * PASS_CACHE_SLOTS; i++) {
		snprintf(pw, sizeof pw, "pw%d", i);
		hits += pass_cache_hit(pw, H1, 200);
		snprintf(pw, sizeof pw, "other%d", i);
		CHECK(!pass_cache_hit(pw, H1, 200));
	}
	CHECK(hits > 0 && hits <= PASS_CACHE_SLOTS);
	/* Too long to key: never kept. */
	char big[2100];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	pass_cache_add(big, H1, 100);
	CHECK(!pass_cache_hit(big, H1, 200));
}

/* Through userdb_hash_matches with real yescrypt hashes: a right password
 * is remembered, a wrong one never passes, a new hash (password changed)
 * needs the new password. */
static void test_hash_matches(void)
{
	char h1[CRYPT_OUTPUT_SIZE], h2[CRYPT_OUTPUT_SIZE];
	pass_cache_configure(600000);
	CHECK(userdb_hash_password("Right-pw-1", h1, sizeof h1) == 0);
	CHECK(userdb_hash_password("Changed-pw-2", h2, sizeof h2) == 0);
	CHECK(userdb_hash_matches("Right-pw-1", h1));
	CHECK(userdb_hash_matches("Right-pw-1", h1));	/* from the cache */
	CHECK(!userdb_hash_matches("right-pw-1", h1));
	CHECK(!userdb_hash_matches("Right-pw-1", h2));
	CHECK(userdb_hash_matches("Changed-pw-2", h2));
	CHECK(!userdb_hash_matches("Right-pw-1", NULL));
	pass_cache_configure(0);
}

int main(void)
{
	test_off_by_default();
	test_hits_and_misses();
	test_hash_matches();
	return check_summary("pass_cache");
}
