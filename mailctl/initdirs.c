/* initdirs.c — directories, certificate and rollback for `mailctl init`. */
#include "mailctl/initdirs.h"
#include "mailctl/commands.h"
#include "common/privdrop.h"
#include "common/tls.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Owner account (as root) and mode of each data directory. */
static const struct {
	const char *name;
	const char *account;	/* NULL: root */
	mode_t mode;
} data_dirs[] = {
	{ "spool", ACCT_QUEUED, 0700 },
	{ "mail", ACCT_MAILSTORE, 0700 },
	{ "db", ACCT_AUTHD, 0700 },
	{ "run", NULL, 0755 },
	{ "log", NULL, 0750 },
};

int init_tls(const char *dir, const char *hostname)
{
	char why[512];
	char *tls = xasprintf("%s/tls", dir);
	char *cert = xasprintf("%s/cert.pem", tls), *key = xasprintf("%s/key.pem", tls);
	int r = 0;
	if (mkdir(tls, 0755) < 0) {
		r = cmd_error("cannot create %s: %s", tls, strerror(errno));
	} else if (tls_make_selfsigned(hostname, cert, key, why, sizeof why) < 0) {
		r = cmd_error("cannot make a TLS certificate in %s: %s", tls, why);
	}
	free(tls);
	free(cert);
	free(key);
	return r ? -1 : 0;
}

int init_data_dirs(const char *dir)
{
	for (size_t i = 0; i < ARRAY_LEN(data_dirs); i++) {
		char *p = xasprintf("%s/%s", dir, data_dirs[i].name);
		uid_t uid = 0;
		gid_t gid = 0;
		int r = 0;
		if (mkdir(p, data_dirs[i].mode) < 0 || chmod(p, data_dirs[i].mode) < 0) {
			r = cmd_error("cannot create %s: %s", p, strerror(errno));
		} else if (running_as_root() && data_dirs[i].account) {
			if (account_ids(data_dirs[i].account, &uid, &gid) < 0)
				r = cmd_error("account %s is missing; run init as root to create it",
					      data_dirs[i].account);
			else if (chown(p, uid, gid) < 0)
				r = cmd_error("cannot give %s to %s: %s", p, data_dirs[i].account,
					      strerror(errno));
		}
		free(p);
		if (r)
			return -1;
	}
	return 0;
}

int dir_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int empty = 1;
	if (!d)
		return 0;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			empty = 0;
			break;
		}
	closedir(d);
	return empty;
}

static const char *rm_root;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (ftw->level == 0 || !strcmp(path, rm_root))
		return 0;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void remove_tree_contents(const char *dir)
{
	rm_root = dir;
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
