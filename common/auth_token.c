/* auth_token.c — login hand-off tokens (auth_proto.h): minted by authd after a
 * successful login, verified by the post-login mail processes.
 * token = hex(HMAC-SHA256(secret, service "\n" user "\n" expiry)) "." expiry */
#include "common/auth_client.h"
#include "common/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#define MAC_LEN 32

static bool mac(const unsigned char secret[AUTH_SECRET_LEN], const char *service,
		const char *user, int64_t expiry, unsigned char out[MAC_LEN])
{
	char buf[2 * AUTH_MAX_FIELD + 64];
	int n = snprintf(buf, sizeof buf, "%s\n%s\n%lld", service, user, (long long)expiry);
	unsigned int len = 0;
	/* The fields are joined by newlines: a newline inside one would let two
	 * different (service, user) pairs share a MAC. */
	if (strchr(service, '\n') || strchr(user, '\n'))
		return false;
	if (n < 0 || (size_t)n >= sizeof buf)
		return false;
	if (!HMAC(EVP_sha256(), secret, AUTH_SECRET_LEN, (const unsigned char *)buf, (size_t)n,
		  out, &len) || len != MAC_LEN)
		return false;
	return true;
}

void auth_token_make(const unsigned char secret[AUTH_SECRET_LEN], const char *service,
		     const char *user, int64_t expiry, char out[AUTH_TOKEN_MAX])
{
	unsigned char m[MAC_LEN];
	out[0] = '\0';
	if (!mac(secret, service, user, expiry, m))
		return;
	for (int i = 0; i < MAC_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", m[i]);
	snprintf(out + 2 * MAC_LEN, AUTH_TOKEN_MAX - 2 * MAC_LEN, ".%lld", (long long)expiry);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

bool auth_token_verify(const unsigned char secret[AUTH_SECRET_LEN], const char *token,
		       const char *service, const char *user, int64_t now)
{
	unsigned char given[MAC_LEN], want[MAC_LEN];
	uint64_t expiry;
	if (!secret || !token || strlen(token) < 2 * MAC_LEN + 2 || token[2 * MAC_LEN] != '.')
		return false;
	for (int i = 0; i < MAC_LEN; i++) {
		int hi = hexval(token[2 * i]), lo = hexval(token[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		given[i] = (unsigned char)(hi << 4 | lo);
	}
	const char *exp = token + 2 * MAC_LEN + 1;
	if (exp[0] == '0' && exp[1])	/* one spelling per expiry */
		return false;
	if (!parse_u64(exp, INT64_MAX, &expiry) || (int64_t)expiry < now)
		return false;
	if (!mac(secret, service, user, (int64_t)expiry, want))
		return false;
	return CRYPTO_memcmp(given, want, MAC_LEN) == 0;
}
