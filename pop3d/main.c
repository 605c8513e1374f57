/* main.c — tern-pop3d: the login role by default, the mail role with --mail
 * (see pop3d/pop3d.h and docs/ARCHITECTURE.md). */
#include "pop3d/pop3d.h"
#include "common/daemon.h"
#include "common/util.h"

#include <string.h>

int main(int argc, char **argv)
{
	struct instance in;
	struct cfg conf;
	struct daemon_rest rest;
	struct pop3d_conf pc;
	daemon_init("pop3d", pop3d_settings, argc, argv, &in, &conf, &rest);
	bool mail = false;
	for (int i = 0; i < rest.argc; i++) {
		if (!strcmp(rest.argv[i], "--mail"))
			mail = true;
		else
			fatal("unknown argument %s (usage: tern-pop3d [-f] [-c DIR] [--mail])", rest.argv[i]);
	}
	pop3d_conf_load(&conf, &pc);
	int rc = mail ? pop3d_mail_main(&in, &pc) : pop3d_login_main(&in, &pc);
	pop3d_conf_free(&pc);
	cfg_free(&conf);
	instance_free(&in);
	return rc;
}
