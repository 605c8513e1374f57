/* check_site.c — `mailctl check` on the settings that make a host part of a
 * site (role, mailbox_host_name, mailbox_hosts) and on the directory's
 * connection settings, which the schema checks only key by key. */
#include "mailctl/check.h"
#include "common/directory.h"
#include "common/instance.h"
#include "common/site.h"
#include "common/site_link.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* A secret shorter than this is guessable from the internal port (smtpd
 * limits AUTH failures per connection, not per site). */
#define SITE_SECRET_MIN 16

/* role = frontend or mailbox: the hosts of a site authenticate each other
 * with site_secret_file, so without a usable one the relay (and the login
 * proxy) would only fail at run time, one 4xx at a time. */
static void check_secret(const struct instance *in, const struct site *s,
			 struct cfg_errors *errs)
{
	char why[400];
	if (!*cfg_str(&in->conf, "site_secret_file")) {
		snprintf(why, sizeof why, "role = %s needs site_secret_file: the front-ends and "
			 "mailbox hosts of a site authenticate each other with it (the same "
			 "file on every host)", site_role_name(s->role));
		error_at(in, "role", why, errs);
		return;
	}
	char *secret = site_secret_load(in, why, sizeof why);
	if (!secret) {
		error_at(in, "site_secret_file", why, errs);
		return;
	}
	size_t n = strlen(secret);
	explicit_bzero(secret, n);
	free(secret);
	char *path = cfg_path(&in->conf, "site_secret_file");
	struct stat st;
	if (n < SITE_SECRET_MIN)
		snprintf(why, sizeof why, "site_secret_file %s holds %zu characters, fewer than %d "
			 "(e.g. openssl rand -hex 32 > %s)", path, n, SITE_SECRET_MIN, path);
	else if (stat(path, &st) == 0 && (st.st_mode & 077))
		snprintf(why, sizeof why, "site_secret_file %s is readable by others (mode %04o; "
			 "chmod 600 %s)", path, (unsigned)(st.st_mode & 07777), path);
	else
		why[0] = '\0';
	if (why[0])
		error_at(in, "site_secret_file", why, errs);
	free(path);
}

void check_site(const struct instance *in, struct cfg_errors *errs)
{
	struct site s;
	char why[400];
	bool pgsql = !strcmp(cfg_str(&in->conf, "directory"), "pgsql");
	check_directory(in, errs);
	if (site_load(in, &s, why, sizeof why) < 0) {
		error_at(in, !strncmp(why, "mailbox_host_name", 17) ? "mailbox_host_name"
			 : !strncmp(why, "site_tls", 8) ? "site_tls" : "mailbox_hosts", why, errs);
		return;
	}
	if (s.role == SITE_FRONTEND && !pgsql)
		error_at(in, "role", "role = frontend needs the site's shared directory "
			 "(directory = pgsql): a front-end finds each user's mailbox host there", errs);
	if (s.role == SITE_FRONTEND && s.nhosts == 0)
		error_at(in, "role", "role = frontend needs mailbox_hosts: a front-end stores no "
			 "mail, it relays each user's mail to a mailbox host", errs);
	if (s.role != SITE_BOTH)
		check_secret(in, &s, errs);
	SSL_CTX *ctx = site_link_tls_ctx(&s, why, sizeof why);
	if (!ctx && why[0])
		error_at(in, "site_ca_file", why, errs);
	SSL_CTX_free(ctx);
	site_free(&s);
}
