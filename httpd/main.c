/* tern-httpd — HTTP access. `tern-httpd` is the front role that parses
 * HTTP before login; `tern-httpd --mail` is the post-login mail role (see
 * httpd.h). */
#include "common/daemon.h"
#include "common/util.h"
#include "httpd/httpd.h"

#include <string.h>


int main(int argc, char **argv)
{
	struct instance in;
	struct cfg conf;
	struct daemon_rest rest;
	daemon_init("httpd", httpd_settings, argc, argv, &in, &conf, &rest);
	bool mail = false;
	for (int i = 0; i < rest.argc; i++) {
		if (!strcmp(rest.argv[i], "--mail"))
			mail = true;
		else
			fatal("unknown argument %s (usage: tern-httpd [--mail] [-c DIR])", rest.argv[i]);
	}
	int rc = mail ? mail_main(&in, &conf) : front_main(&in, &conf);
	cfg_free(&conf);
	instance_free(&in);
	return rc;
}
