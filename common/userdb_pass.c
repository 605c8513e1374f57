/* userdb_pass.c — the only code that writes or checks password hashes.
 * Linked only by authd and mailctl (nothing else references these symbols, so
 * the static library leaves this object out of every other program). */
#include "common/userdb.h"
#include "common/map.h"
#include "common/pass_cache.h"
#include "common/util.h"

#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Hashed for unknown users so that they cost what a wrong password costs. */
static const char dummy_password[] = "tern-no-such-user";

int userdb_hash_password(const char *password, char *out, size_t outlen)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd;
	if (!crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof salt))
		return -1;
	cd = xcalloc(1, sizeof *cd);
	const char *h = crypt_r(password, salt, cd);
	int r = -1;
	if (h && h[0] == '$' && strlen(h) < outlen) {
		strlcpy_t(out, h, outlen);
		r = 0;
	}
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return r;
}

/* Constant-time comparison of two NUL-terminated strings of public length. */
static bool same(const char *a, const char *b)
{
	size_t n = strlen(a);
	if (n != strlen(b))
		return false;
	unsigned char d = 0;
	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

static bool password_matches(const char *password, const char *hash)
{
	struct crypt_data *cd = xcalloc(1, sizeof *cd);
	const char *h = crypt_r(password, hash, cd);
	/* crypt_r returns a string starting with '*' on an invalid setting. */
	bool ok = h && h[0] != '*' && same(h, hash);
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return ok;
}

static char dummy[CRYPT_OUTPUT_SIZE];

static void make_dummy(void)
{
	if (userdb_hash_password(dummy_password, dummy, sizeof dummy) < 0)
		dummy[0] = '\0';
}

/* authd checks passwords on several threads: make the dummy hash once. */
static const char *dummy_hash(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, make_dummy);
	return dummy;
}

bool userdb_hash_matches(const char *password, const char *hash)
{
	if (!hash || strlen(password) > USERDB_MAX_PASSWORD) {
		(void)password_matches(dummy_password, dummy_hash());
		return false;
	}
	/* A hit skips the slow hash only for a password that matched this very
	 * stored hash within the ttl (pass_cache.c); misses cost what they did. */
	if (pass_cache_hit(password, hash, now_ms()))
		return true;
	bool ok = password_matches(password, hash);
	if (ok)
		pass_cache_add(password, hash, now_ms());
	return ok;
}

bool userdb_hash_valid(const char *hash)
{
	size_t n = strlen(hash);
	if (n == 0 || n > USERDB_MAX_HASH)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)hash[i] <= ' ' || hash[i] == 0x7f)
			return false;
	return true;
}

int userdb_check_password(const char *db_dir, const char *address, const char *password)
{
	char a[USERDB_MAX_ADDR];
	char *rec = NULL, *hash = NULL;
	struct userdb_user u;
	int r = 0;
	if (!userdb_norm_address(address, a)) {
		(void)userdb_hash_matches(password, NULL);
		return 0;
	}
	char *p = userdb_path(db_dir, "users");
	struct map *m = map_open(p, MAP_READ);
	int e = errno;
	free(p);
	if (!m) {
		if (e != ENOENT)
			return -1;
	} else {
		r = map_get(m, a, &rec, NULL);
		map_close(m);
	}
	if (r < 0)
		return -1;
	if (r == 1 && userdb_parse_user(rec, &u, &hash)) {
		r = userdb_hash_matches(password, hash) ? 1 : 0;
	} else {
		(void)userdb_hash_matches(password, NULL);
		r = r == 1 ? -1 : 0;	/* a malformed record is a database error */
	}
	free(rec);
	free(hash);
	return r;
}

static int check_password_text(const char *password, char *why, size_t whylen)
{
	size_t n = strlen(password);
	if (n == 0 || n > USERDB_MAX_PASSWORD) {
		snprintf(why, whylen, n ? "password too long (at most %d bytes)" : "empty password",
			 USERDB_MAX_PASSWORD);
		return -1;
	}
	return 0;
}

/* How a record is stored: only when absent (a new user), only over an
 * existing one whose quota and host are kept (a new password), or in any case
 * as given (an import). */
enum store_mode { STORE_NEW, STORE_PASSWD, STORE_REPLACE };

/* Store the record of a with hash, as mode says. */
static int store_hash(const char *db_dir, const char *a, const char *hash,
		      const struct userdb_user *given, enum store_mode mode, char *why, size_t whylen)
{
	bool must_exist = mode == STORE_PASSWD;
	struct map *m;
	char *old = NULL;
	struct userdb_user u = *given;
	if (userdb_open_write(db_dir, "users", &m) < 0) {
		snprintf(why, whylen, "cannot open %s/users.db: %s", db_dir, strerror(errno));
		return -1;
	}
	int r = map_get(m, a, &old, NULL);
	if (r < 0 || (r == 1 && must_exist && !userdb_parse_user(old, &u, NULL))) {
		snprintf(why, whylen, "cannot read users.db");
		r = -1;
	} else if (r == 0 && must_exist) {
		snprintf(why, whylen, "no such user: %s", a);
		r = -1;
	} else if (r == 1 && mode == STORE_NEW) {
		snprintf(why, whylen, "user %s already exists (change the password with `mailctl user passwd`)", a);
		r = -1;
	} else {
		char *rec = userdb_user_record(&u, hash);
		r = map_put(m, a, rec, strlen(rec));
		explicit_bzero(rec, strlen(rec));
		free(rec);
		if (r < 0)
			snprintf(why, whylen, "cannot update users.db for %s", a);
	}
	free(old);
	if (userdb_close_write(db_dir, "users", m) < 0 && r == 0) {
		snprintf(why, whylen, "cannot write %s/users.db", db_dir);
		r = -1;
	}
	return r;
}

static int store(const char *db_dir, const char *a, const char *password,
		 const struct userdb_user *u, enum store_mode mode, char *why, size_t whylen)
{
	char hash[CRYPT_OUTPUT_SIZE];
	if (userdb_hash_password(password, hash, sizeof hash) < 0) {
		snprintf(why, whylen, "cannot hash the password (crypt: %s)", strerror(errno));
		return -1;
	}
	int r = store_hash(db_dir, a, hash, u, mode, why, whylen);
	explicit_bzero(hash, sizeof hash);
	return r;
}

/* A new user's address and domain; 0 or -1 with why. */
static int check_new_user(const char *db_dir, const char *address, char *a, char *why,
			  size_t whylen)
{
	if (!userdb_norm_address(address, a) || strchr(a, '+')) {
		snprintf(why, whylen, "\"%s\" is not a valid user address (local@domain, no '+')", address);
		return -1;
	}
	int d = userdb_domain_exists(db_dir, userdb_domain_of(a));
	if (d != 1) {
		if (d < 0)
			snprintf(why, whylen, "cannot read the domain database in %s", db_dir);
		else
			snprintf(why, whylen, "%s is not a local domain (add it with `mailctl domain add %s`)",
				 userdb_domain_of(a), userdb_domain_of(a));
		return -1;
	}
	return 0;
}

int userdb_user_add(const char *db_dir, const char *address, const char *password,
		    const struct userdb_user *u, char *why, size_t whylen)
{
	char a[USERDB_MAX_ADDR];
	if (check_new_user(db_dir, address, a, why, whylen) < 0 ||
	    check_password_text(password, why, whylen) < 0)
		return -1;
	return store(db_dir, a, password, u, STORE_NEW, why, whylen);
}

int userdb_user_passwd(const char *db_dir, const char *address, const char *password,
		       char *why, size_t whylen)
{
	char a[USERDB_MAX_ADDR];
	struct userdb_user none = { 0 };
	if (!userdb_norm_address(address, a)) {
		snprintf(why, whylen, "\"%s\" is not a valid address (local@domain)", address);
		return -1;
	}
	if (check_password_text(password, why, whylen) < 0)
		return -1;
	return store(db_dir, a, password, &none, STORE_PASSWD, why, whylen);
}

int userdb_user_put_hash(const char *db_dir, const char *address, const struct userdb_user *u,
			 const char *hash, char *why, size_t whylen)
{
	char a[USERDB_MAX_ADDR];
	if (check_new_user(db_dir, address, a, why, whylen) < 0)
		return -1;
	if (!userdb_hash_valid(hash)) {
		snprintf(why, whylen, "the password hash of %s is not a crypt(3) hash", a);
		return -1;
	}
	return store_hash(db_dir, a, hash, u, STORE_REPLACE, why, whylen);
}
