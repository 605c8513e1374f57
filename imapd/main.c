/* tern-imapd — IMAP server. `tern-imapd` is the pre-authentication login
 * role; `tern-imapd --mail` is the post-login mail role (see imapd.h). */
#include "common/daemon.h"
#include "common/util.h"
#include "imapd/imapd.h"

#include <string.h>

int main(int argc, char **argv)
{
	struct instance in;
	struct cfg conf;
	struct daemon_rest rest;
	daemon_init("imapd", imapd_settings, argc, argv, &in, &conf, &rest);
	bool mail = false;
	for (int i = 0; i < rest.argc; i++) {
		if (!strcmp(rest.argv[i], "--mail"))
			mail = true;
		else
			fatal("unknown argument %s (usage: tern-imapd [--mail] [-c DIR])", rest.argv[i]);
	}
	int rc = mail ? mail_main(&in, &conf) : login_main(&in, &conf);
	cfg_free(&conf);
	instance_free(&in);
	return rc;
}
