/* Unit tests: login hand-off tokens, including forged and malformed ones. */
#include "common/auth_client.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <stdio.h>
#include <string.h>

int main(void)
{
	unsigned char secret[AUTH_SECRET_LEN], other[AUTH_SECRET_LEN];
	char tok[AUTH_TOKEN_MAX], bad[AUTH_TOKEN_MAX + 16];
	memset(secret, 7, sizeof secret);
	memset(other, 8, sizeof other);

	auth_token_make(secret, "imap", "alice@example.test", 2000000000, tok);
	CHECK(strlen(tok) == 64 + 1 + 10 && tok[64] == '.');
	CHECK(auth_token_verify(secret, tok, "imap", "alice@example.test", 1999999999));
	CHECK(auth_token_verify(secret, tok, "imap", "alice@example.test", 2000000000));
	CHECK(!auth_token_verify(secret, tok, "imap", "alice@example.test", 2000000001));	/* expired */
	CHECK(!auth_token_verify(secret, tok, "pop3", "alice@example.test", 0));	/* other service */
	CHECK(!auth_token_verify(secret, tok, "imap", "bob@example.test", 0));	/* other user */
	CHECK(!auth_token_verify(other, tok, "imap", "alice@example.test", 0));	/* other secret */
	CHECK(!auth_token_verify(NULL, tok, "imap", "alice@example.test", 0));

	/* Tampered expiry, MAC bits, format. */
	snprintf(bad, sizeof bad, "%.65s2100000000", tok);
	CHECK(!auth_token_verify(secret, bad, "imap", "alice@example.test", 0));
	strcpy(bad, tok);
	bad[0] = bad[0] == 'a' ? 'b' : 'a';
	CHECK(!auth_token_verify(secret, bad, "imap", "alice@example.test", 0));
	strcpy(bad, tok);
	bad[3] = 'G';
	CHECK(!auth_token_verify(secret, bad, "imap", "alice@example.test", 0));
	strcpy(bad, tok);
	for (int i = 0; i < 64; i++)	/* upper-case hex is not our spelling */
		if (bad[i] >= 'a' && bad[i] <= 'f') { bad[i] = (char)(bad[i] - 32); break; }
	CHECK(!auth_token_verify(secret, bad, "imap", "alice@example.test", 0));
	snprintf(bad, sizeof bad, "%.64s.02000000000", tok);	/* leading zero */
	CHECK(!auth_token_verify(secret, bad, "imap", "alice@example.test", 0));
	snprintf(bad, sizeof bad, "%.64s.", tok);
	CHECK(!auth_token_verify(secret, bad, "imap", "alice@example.test", 0));
	snprintf(bad, sizeof bad, "%.64s.-5", tok);
	CHECK(!auth_token_verify(secret, bad, "imap", "alice@example.test", 0));
	snprintf(bad, sizeof bad, "%.64s.99999999999999999999999", tok);
	CHECK(!auth_token_verify(secret, bad, "imap", "alice@example.test", 0));
	snprintf(bad, sizeof bad, "%.63s.2000000000", tok);	/* short MAC */
	CHECK(!auth_token_verify(secret, bad, "imap", "alice@example.test", 0));
	CHECK(!auth_token_verify(secret, "", "imap", "alice@example.test", 0));
	CHECK(!auth_token_verify(secret, NULL, "imap", "alice@example.test", 0));
	CHECK(!auth_token_verify(secret, tok, "imap", "", 0));
	/* A user name that would shift the "\n" separators is a different user. */
	auth_token_make(secret, "imap", "a\nb", 2000000000, tok);
	CHECK_STR(tok, "");
	auth_token_make(secret, "imap", "a", 2000000000, tok);
	CHECK(!auth_token_verify(secret, tok, "imap\na", "b", 0));
	CHECK(!auth_token_verify(secret, tok, "imap", "a\n", 0));
	return check_summary("auth_token");
}
