/* sasl.c — SASL PLAIN and LOGIN response decoding. */
#include "common/sasl.h"
#include "common/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

long sasl_b64decode(const char *in, unsigned char *out, size_t cap)
{
	size_t n = strlen(in);
	if (n % 4 || n / 4 * 3 > cap || n > SASL_LINE_MAX)
		return -1;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			  c == '+' || c == '/' || (c == '=' && i >= n - 2);
		if (!ok || (i == n - 2 && c == '=' && in[n - 1] != '='))
			return -1;
	}
	int len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
	if (len < 0)
		return -1;
	/* EVP_DecodeBlock counts padding as zero bytes: take them off. */
	len -= (in[n - 1] == '=') + (in[n - 2] == '=');
	return len;
}

void sasl_b64encode(const unsigned char *in, size_t n, char *out)
{
	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* Split "authzid NUL authcid NUL passwd" (n bytes, NUL-terminated); a third
 * NUL would hide part of the password: refused. */
static bool plain_split(const unsigned char *buf, long n, const char **authz,
			const char **authc, const char **pw)
{
	const unsigned char *z1 = memchr(buf, '\0', (size_t)n);
	const unsigned char *z2 = z1 ? memchr(z1 + 1, '\0', (size_t)(buf + n - z1 - 1)) : NULL;
	if (!z1 || !z2)
		return false;
	*authz = (const char *)buf;
	*authc = (const char *)z1 + 1;
	*pw = (const char *)z2 + 1;
	return strlen(*pw) == (size_t)(buf + n - z2 - 1) && **authc && **pw;
}

bool sasl_plain(const char *b64, char **user, char **pass)
{
	unsigned char buf[SASL_LINE_MAX];
	long n = sasl_b64decode(b64, buf, sizeof buf - 1);
	const char *authz, *authc, *pw;
	bool ok = false;
	if (n < 0)
		return false;
	buf[n] = '\0';
	if (plain_split(buf, n, &authz, &authc, &pw) && (!*authz || !strcmp(authz, authc))) {
		*user = xstrdup(authc);
		*pass = xstrdup(pw);
		ok = true;
	}
	OPENSSL_cleanse(buf, sizeof buf);
	return ok;
}

bool sasl_plain_site(const char *b64, char **user, char **secret)
{
	unsigned char buf[SASL_LINE_MAX];
	long n = sasl_b64decode(b64, buf, sizeof buf - 1);
	const char *authz, *authc, *pw;
	bool ok = false;
	if (n < 0)
		return false;
	buf[n] = '\0';
	if (plain_split(buf, n, &authz, &authc, &pw) && *authz && !strcmp(authc, "site")) {
		*user = xstrdup(authz);
		*secret = xstrdup(pw);
		ok = true;
	}
	OPENSSL_cleanse(buf, sizeof buf);
	return ok;
}

char *sasl_plain_site_encode(const char *user, const char *secret)
{
	size_t ul = strlen(user), sl = strlen(secret), n = ul + 6 + sl;
	unsigned char *raw = xmalloc(n);
	memcpy(raw, user, ul);
	memcpy(raw + ul, "\0site\0", 6);
	memcpy(raw + ul + 6, secret, sl);
	char *b64 = xmalloc(4 * ((n + 2) / 3) + 1);
	sasl_b64encode(raw, n, b64);
	OPENSSL_cleanse(raw, n);
	free(raw);
	return b64;
}

bool sasl_login_field(const char *b64, char **out)
{
	unsigned char buf[SASL_LINE_MAX];
	long n = sasl_b64decode(b64, buf, sizeof buf - 1);
	if (n <= 0 || memchr(buf, '\0', (size_t)n)) {
		OPENSSL_cleanse(buf, sizeof buf);
		return false;
	}
	buf[n] = '\0';
	*out = xstrdup((const char *)buf);
	OPENSSL_cleanse(buf, sizeof buf);
	return true;
}
