/* urlauth.c — URLAUTH access keys, tokens and access identifiers. */
#include "imapd/urlauth.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* 0, -1 (unreadable), -2 (none) */
static int read_key(const char *path, unsigned char key[URLAUTH_KEY_LEN])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return -2;
		log_err("urlauth: cannot open %s: %m", path);
		return -1;
	}
	int r = read_full(fd, key, URLAUTH_KEY_LEN);
	close(fd);
	if (r < 0)
		log_err("urlauth: %s is damaged", path);
	return r < 0 ? -1 : 0;
}

/* A fresh random key in dir/tmp-name, then renamed (replace) or linked (only
 * if none exists yet) into place, so a reader never sees half a key. */
static int write_key(const char *dir, bool replace)
{
	unsigned char key[URLAUTH_KEY_LEN];
	if (RAND_bytes(key, sizeof key) != 1)
		return -1;
	char *tmp = xasprintf("%s/%s.%ld", dir, URLAUTH_KEY_FILE, (long)getpid());
	char *path = xasprintf("%s/%s", dir, URLAUTH_KEY_FILE);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	int r = fd >= 0 && write_all(fd, key, sizeof key) == 0 && fsync(fd) == 0 ? 0 : -1;
	if (fd >= 0)
		close(fd);
	if (r == 0 && replace)
		r = rename(tmp, path);
	else if (r == 0 && link(tmp, path) < 0 && errno != EEXIST)
		r = -1;	/* EEXIST: another session made one first; use it */
	if (r < 0)
		log_err("urlauth: cannot write %s: %m", path);
	unlink(tmp);
	OPENSSL_cleanse(key, sizeof key);
	free(tmp);
	free(path);
	return r;
}

int urlauth_key(const char *dir, bool create, unsigned char key[URLAUTH_KEY_LEN])
{
	char *path = xasprintf("%s/%s", dir, URLAUTH_KEY_FILE);
	int r = read_key(path, key);
	if (r == -2 && create && write_key(dir, false) == 0)
		r = read_key(path, key);
	free(path);
	return r < 0 ? -1 : 0;
}

int urlauth_reset(const char *dir)
{
	char *path = xasprintf("%s/%s", dir, URLAUTH_KEY_FILE);
	bool had = access(path, F_OK) == 0;
	free(path);
	return had ? write_key(dir, true) : 0;
}

char *urlauth_sign(const unsigned char key[URLAUTH_KEY_LEN], const char *url, size_t len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	HMAC(EVP_sha256(), key, URLAUTH_KEY_LEN, (const unsigned char *)url, len, mac, &n);
	char *hex = xmalloc(2 * n + 1);
	for (unsigned i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	return hex;
}

/* "user+X" / "submit+X" names w->user: X as given, or X@host of the URL. */
static bool names_user(const struct imap_url *u, const char *x, const char *user)
{
	if (strchr(x, '@') || !u->host)
		return !strcasecmp(x, user);
	size_t n = strlen(x);
	return !strncasecmp(x, user, n) && user[n] == '@' && !strcasecmp(user + n + 1, u->host);
}

bool urlauth_allows(const struct imap_url *u, const struct urlauth_who *w, const char **why)
{
	const char *a = u->access;
	*why = "Access not allowed";
	if (!a)
		return false;
	if (!strcasecmp(a, "anonymous"))
		return true;
	if (!strcasecmp(a, "authuser"))
		return !w->submit;
	if (!strncasecmp(a, "user+", 5))
		return !w->submit && names_user(u, a + 5, w->user);
	if (!strncasecmp(a, "submit+", 7))
		return w->submit && names_user(u, a + 7, w->user);
	return false;
}

bool urlauth_valid(const struct imap_url *u, const char *url, const char *dir, const char **why)
{
	*why = "Invalid URLAUTH";
	if (!u->access || !u->mech || !u->token || strcasecmp(u->mech, URLAUTH_MECH))
		return false;
	if (u->expire >= 0 && u->expire <= (int64_t)time(NULL)) {
		*why = "URLAUTH expired";
		return false;
	}
	unsigned char key[URLAUTH_KEY_LEN];
	if (urlauth_key(dir, false, key) < 0)
		return false;
	char *want = urlauth_sign(key, url, u->rump_len);
	OPENSSL_cleanse(key, sizeof key);
	size_t n = strlen(want);
	char *got = xstrdup(u->token);
	for (char *c = got; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'F' ? *c - 'A' + 'a' : *c);
	bool ok = strlen(got) == n && CRYPTO_memcmp(got, want, n) == 0;
	free(got);
	free(want);
	return ok;
}
