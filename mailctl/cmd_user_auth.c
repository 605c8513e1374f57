/* cmd_user_auth.c — `mailctl user auth ADDRESS`: check a password through the
 * running auth service, exactly as the mail daemons do (same socket, same
 * request, same rate limiting: mailctl counts as client "local"). */
#include "mailctl/userctl.h"
#include "mailctl/commands.h"
#include "common/auth_client.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>

/* Failed logins are answered late on purpose: wait well past that. */
#define AUTH_CLI_TIMEOUT_MS 60000

int userctl_auth(const struct instance *in, const char *address)
{
	char *sock = instance_sock(in, "auth");
	struct auth_sync c;
	if (auth_sync_open(&c, sock, AUTH_CLI_TIMEOUT_MS) < 0) {
		cmd_error("the auth service of %s is not running (%s: cannot connect); start it with `mailctl -c %s start`",
			  in->dir, sock, in->dir);
		auth_sync_close(&c);
		free(sock);
		return 2;
	}
	free(sock);
	char *pw = userctl_read_password("Password: ", false);
	if (!pw) {
		auth_sync_close(&c);
		return 2;
	}
	struct auth_reply r;
	auth_sync_login(&c, "mailctl", address, pw, "local", &r);
	userctl_free_password(pw);
	auth_sync_close(&c);
	int rc;
	if (r.tempfail || r.result == AUTH_TEMPFAIL) {
		cmd_error("the auth service could not check the password (see the log); try again");
		rc = 2;
	} else if (r.result == AUTH_OK) {
		printf("ok\n");
		rc = 0;
	} else {
		printf("failed\n");
		if (r.result == AUTH_LOCKED)
			cmd_error("refused: too many failed logins from this client; try again later");
		rc = 1;
	}
	auth_reply_free(&r);
	return rc;
}
