/* tern-httpd — HTTP access. `tern-httpd` is the front role that parses
 * HTTP before login; `tern-httpd --mail` is the post-login mail role (see
 * httpd.h). */
#include "common/daemon.h"
#include "common/util.h"
#include "httpd/httpd.h"


int main(int argc, char **argv)
{
	struct instance in;
	struct cfg conf;
	struct daemon_rest rest;
	daemon_init("httpd", httpd_settings, argc, argv, &in, &conf, &rest);
	for (int i = 0; i < rest.argc; i++)
		fatal("unknown argument %s (usage: tern-httpd [-c DIR])", rest.argv[i]);
	int rc = front_main(&in, &conf);
	cfg_free(&conf);
	instance_free(&in);
	return rc;
}
