/* token.c — minting the login hand-off token (format: auth_proto.h). */
#include "authd/authd.h"
#include "common/auth_client.h"
#include "common/util.h"

#include <time.h>

void token_for(const char *service, const char *user, char *out, size_t outlen)
{
	char tok[AUTH_TOKEN_MAX];
	out[0] = '\0';
	if (!authd.secret)
		return;	/* started by hand, without a run: no post-login hand-off possible */
	auth_token_make(authd.secret, service, user,
			(int64_t)time(NULL) + (int64_t)authd.token_lifetime_s, tok);
	strlcpy_t(out, tok, outlen);
}
