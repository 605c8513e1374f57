/* token.h — login tokens (common/auth_proto.h): hex(HMAC-SHA256(secret,
 * service "\n" user "\n" expiry)) "." expiry, expiry in Unix seconds. authd
 * makes them; the mail role accepts a hand-off only with a valid one. */
#ifndef TERN_POP3D_TOKEN_H
#define TERN_POP3D_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define TOKEN_SECRET_LEN 32
#define TOKEN_MAX 96

/* Write a token valid until expiry into out (TOKEN_MAX bytes). */
void token_make(const unsigned char *secret, const char *service, const char *user,
		time_t expiry, char *out);
/* True if token is well-formed, matches, and expiry >= now. */
bool token_verify(const unsigned char *secret, const char *service, const char *user,
		  const char *token, time_t now);

#endif
