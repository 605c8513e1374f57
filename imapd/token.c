/* token.c — check the login token authd issued (common/auth_proto.h):
 * hex(HMAC-SHA256(secret, service "\n" user "\n" expiry)) "." expiry. */
#include "imapd/imapd.h"
#include "common/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

bool token_valid(const unsigned char secret[32], const char *service, const char *user,
		 const char *token)
{
	const char *dot = strchr(token, '.');
	if (!secret || !dot || dot - token != 64)
		return false;
	uint64_t expiry;
	if (!parse_u64(dot + 1, UINT64_MAX / 2, &expiry) || expiry < (uint64_t)time(NULL))
		return false;
	char *data = xasprintf("%s\n%s\n%s", service, user, dot + 1);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	HMAC(EVP_sha256(), secret, 32, (const unsigned char *)data, strlen(data), mac, &maclen);
	free(data);
	char hex[65];
	for (unsigned i = 0; i < 32 && i < maclen; i++)
		snprintf(hex + 2 * i, 3, "%02x", mac[i]);
	return maclen == 32 && CRYPTO_memcmp(hex, token, 64) == 0;
}
