/* tern-imapd — IMAP server. `tern-imapd` is the pre-authentication login
 * role; `tern-imapd --mail` is the post-login mail role (see imapd.h);
 * `tern-imapd --idle` holds parked IDLE sessions (idlehold.h). */
#include "common/daemon.h"
#include "common/util.h"
#include "imapd/idlehold.h"
#include "imapd/imapd.h"

#include <string.h>

int main(int argc, char **argv)
{
	struct instance in;
	struct cfg conf;
	struct daemon_rest rest;
	daemon_init("imapd", imapd_settings, argc, argv, &in, &conf, &rest);
	bool mail = false, idle = false;
	for (int i = 0; i < rest.argc; i++) {
		if (!strcmp(rest.argv[i], "--mail"))
			mail = true;
		else if (!strcmp(rest.argv[i], "--idle"))
			idle = true;
		else
			fatal("unknown argument %s (usage: tern-imapd [--mail|--idle] [-c DIR])", rest.argv[i]);
	}
	int rc = idle ? hold_main(&in, &conf) : mail ? mail_main(&in, &conf) : login_main(&in, &conf);
	cfg_free(&conf);
	instance_free(&in);
	return rc;
}
