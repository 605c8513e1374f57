/* token.c — HMAC-SHA256 login tokens. */
#include "pop3d/token.h"
#include "common/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

static void mac_hex(const unsigned char *secret, const char *service, const char *user,
		    const char *expiry, char hex[65])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char *data = xasprintf("%s\n%s\n%s", service, user, expiry);
	HMAC(EVP_sha256(), secret, TOKEN_SECRET_LEN, (const unsigned char *)data, strlen(data),
	     mac, &len);
	free(data);
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
}

void token_make(const unsigned char *secret, const char *service, const char *user,
		time_t expiry, char *out)
{
	char exp[24], hex[65];
	snprintf(exp, sizeof exp, "%lld", (long long)expiry);
	mac_hex(secret, service, user, exp, hex);
	snprintf(out, TOKEN_MAX, "%s.%s", hex, exp);
}

bool token_verify(const unsigned char *secret, const char *service, const char *user,
		  const char *token, time_t now)
{
	if (!secret || !token || strlen(token) >= TOKEN_MAX)
		return false;
	const char *dot = strchr(token, '.');
	uint64_t exp;
	if (!dot || dot - token != 64 || !parse_u64(dot + 1, UINT64_MAX >> 2, &exp) ||
	    (time_t)exp < now)
		return false;
	char hex[65];
	mac_hex(secret, service, user, dot + 1, hex);
	return CRYPTO_memcmp(hex, token, 64) == 0;
}
