/* check_site.c — `mailctl check` on the settings that make a host part of a
 * site (role, mailbox_host_name, mailbox_hosts) and on the directory's
 * connection settings, which the schema checks only key by key. */
#include "mailctl/check.h"
#include "common/directory.h"
#include "common/instance.h"
#include "common/site.h"

#include <stdio.h>
#include <string.h>

/* "tern.conf:LINE: why" at the line of key (0 when it is defaulted). */
static void error_at(const struct instance *in, const char *key, const char *why,
		     struct cfg_errors *errs)
{
	cfg_error(errs, "%s:%d: %s", in->conf.path, cfg_key_line(&in->conf, key), why);
}

/* directory = pgsql: the connection string parses and holds no password, the
 * password file can be read (as the daemons read it: with dir_settings_load). */
static void check_directory(const struct instance *in, struct cfg_errors *errs)
{
	struct dir_settings ds;
	char why[400];
	/* The message of a bad connection string starts with its key (and may
	 * name directory_password_file in its advice); the rest are the file's. */
	if (dir_settings_load(in, &ds, why, sizeof why) < 0)
		error_at(in, strncmp(why, "directory_pgsql", 15) ? "directory_password_file"
								 : "directory_pgsql", why, errs);
	else
		dir_settings_free(&ds);
}

void check_site(const struct instance *in, struct cfg_errors *errs)
{
	struct site s;
	char why[400];
	bool pgsql = !strcmp(cfg_str(&in->conf, "directory"), "pgsql");
	check_directory(in, errs);
	if (site_load(in, &s, why, sizeof why) < 0) {
		error_at(in, strncmp(why, "mailbox_host_name", 17) ? "mailbox_hosts"
								  : "mailbox_host_name", why, errs);
		return;
	}
	if (s.role == SITE_FRONTEND && !pgsql)
		error_at(in, "role", "role = frontend needs the site's shared directory "
			 "(directory = pgsql): a front-end finds each user's mailbox host there", errs);
	if (s.role == SITE_FRONTEND && s.nhosts == 0)
		error_at(in, "role", "role = frontend needs mailbox_hosts: a front-end stores no "
			 "mail, it relays each user's mail to a mailbox host", errs);
	site_free(&s);
}
