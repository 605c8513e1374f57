/* cmd_users.c — `mailctl domain|user|alias ...` (PRODUCT.md section 4): edit the
 * directory directly, whichever backend tern.conf names (it works whether the
 * instance runs or not; authd reads the directory at every lookup, so changes
 * apply at once). */
#include "mailctl/commands.h"
#include "mailctl/userctl.h"
#include "common/directory.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int userctl_run_sub(const char *group, const struct userctl_sub *subs, size_t nsubs,
		    const char *dir, int argc, char **argv, const char *group_usage)
{
	if (argc < 2) {
		cmd_error("usage: mailctl [-c DIR] %s (try mailctl %s --help)", group_usage, group);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		printf("usage: mailctl [-c DIR] %s\n", group_usage);
		for (size_t i = 0; i < nsubs; i++)
			printf("  %-40s %s\n", subs[i].usage, subs[i].help);
		return 0;
	}
	for (size_t i = 0; i < nsubs; i++) {
		const struct userctl_sub *s = &subs[i];
		if (strcmp(argv[1], s->name))
			continue;
		for (int k = 2; k < argc; k++) {
			if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h")) {
				printf("usage: mailctl [-c DIR] %s\n%s\n", s->usage, s->help);
				return 0;
			}
		}
		int nargs = argc - 2;
		if (nargs < s->min_args || nargs > s->max_args) {
			cmd_error("usage: mailctl [-c DIR] %s", s->usage);
			return 2;
		}
		struct userctl u;
		if (userctl_open(dir, &u) < 0)
			return 1;
		int r = s->fn(&u, argv + 2, nargs);
		userctl_close(&u);
		return r;
	}
	cmd_error("unknown %s subcommand \"%s\" (try mailctl %s --help)", group, argv[1], group);
	return 2;
}

int userctl_instance(const char *dir, struct instance *in)
{
	struct cfg_errors errs = { 0 };
	if (instance_load(in, instance_default_dir(dir), &errs) < 0) {
		cmd_error("%s", errs.count ? errs.msg[0] : "cannot load the instance");
		instance_free(in);
		return -1;
	}
	return 0;
}

int userctl_open(const char *dir, struct userctl *u)
{
	char why[512];
	struct dir_settings ds;
	memset(u, 0, sizeof *u);
	if (userctl_instance(dir, &u->in) < 0)
		return -1;
	if (dir_settings_load(&u->in, &ds, why, sizeof why) == 0) {
		ds.app = "mailctl";
		u->dir = dir_open(&ds, why, sizeof why);
	}
	dir_settings_free(&ds);
	if (!u->dir) {
		cmd_error("%s", why);
		instance_free(&u->in);
		return -1;
	}
	return 0;
}

void userctl_close(struct userctl *u)
{
	dir_close(u->dir);
	instance_free(&u->in);
}

static int fail(const char *why)
{
	return cmd_error("%s", why);
}

/* A lookup that could not be answered. */
static int unreadable(struct userctl *u)
{
	return cmd_error("cannot read the directory (%s): %s", dir_describe(u->dir), dir_last_error());
}

/* ---- domain ---- */

static void print_line(const char *s, void *arg) { printf("%s\n", s); }

static int domain_add(struct userctl *u, char **a, int n)
{
	char why[512];
	return dir_domain_add(u->dir, a[0], why, sizeof why) < 0 ? fail(why) : 0;
}

static int domain_del(struct userctl *u, char **a, int n)
{
	char why[512];
	return dir_domain_del(u->dir, a[0], why, sizeof why) < 0 ? fail(why) : 0;
}

static int domain_list(struct userctl *u, char **a, int n)
{
	return dir_domain_list(u->dir, print_line, NULL) < 0 ? unreadable(u) : 0;
}

static const struct userctl_sub domain_subs[] = {
	{ "add", 1, 1, domain_add, "domain add DOMAIN", "make DOMAIN a local domain" },
	{ "del", 1, 1, domain_del, "domain del DOMAIN", "remove a local domain (it must have no users or aliases)" },
	{ "list", 0, 0, domain_list, "domain list", "print the local domains, one a line" },
};

int cmd_domain(const char *dir, int argc, char **argv)
{
	return userctl_run_sub("domain", domain_subs, ARRAY_LEN(domain_subs), dir, argc, argv,
		       "domain add|del|list [DOMAIN]");
}

/* ---- user ---- */

/* `user add ADDRESS [SIZE] [--host HOST]`: the options out of the arguments. */
static int user_add_args(char **a, int n, const char **host, uint64_t *quota)
{
	const char *size = NULL;
	*host = "";
	*quota = 0;
	for (int i = 1; i < n; i++) {
		if (!strcmp(a[i], "--host") && i + 1 < n)
			*host = a[++i];
		else if (!size && a[i][0] != '-')
			size = a[i];
		else
			return cmd_error("usage: mailctl [-c DIR] user add ADDRESS [SIZE] [--host HOST]");
	}
	if (size && !userctl_parse_size(size, quota))
		return cmd_error("bad size \"%s\" (bytes, or a number with k, m or g)", size);
	return 0;
}

static int user_add(struct userctl *u, char **a, int n)
{
	char why[512], addr[USERDB_MAX_ADDR];
	struct userdb_user entry = { 0 };
	const char *host;
	if (user_add_args(a, n, &host, &entry.quota))
		return 2;
	if (!userdb_norm_host(host, entry.host))
		return cmd_error("\"%s\" is not a host name or IP address", host);
	if (!userdb_norm_address(a[0], addr) || strchr(addr, '+'))
		return cmd_error("\"%s\" is not a valid user address (local@domain, no '+')", a[0]);
	/* Check what we can before asking for the password. */
	int d = dir_domain_exists(u->dir, userdb_domain_of(addr));
	if (d != 1)
		return d < 0 ? unreadable(u) :
			cmd_error("%s is not a local domain (add it with `mailctl domain add %s`)",
				  userdb_domain_of(addr), userdb_domain_of(addr));
	if (dir_user_get(u->dir, addr, NULL) == 1)
		return cmd_error("user %s already exists (change the password with `mailctl user passwd`)", addr);
	char *pw = userctl_read_password("Password: ", true);
	if (!pw)
		return 1;
	int r = dir_user_add(u->dir, addr, pw, &entry, why, sizeof why);
	userctl_free_password(pw);
	if (r < 0)
		return fail(why);
	/* A user of another mailbox host gets the Maildir there. */
	if (!entry.host[0] && userctl_make_maildir(u->in.mail_dir, addr, why, sizeof why) < 0) {
		char why2[512];
		/* Nothing half-created: without its Maildir the user is removed again. */
		dir_user_del(u->dir, addr, why2, sizeof why2);
		return fail(why);
	}
	return 0;
}

static int user_del(struct userctl *u, char **a, int n)
{
	char why[512];
	return dir_user_del(u->dir, a[0], why, sizeof why) < 0 ? fail(why) : 0;
}

static int user_passwd(struct userctl *u, char **a, int n)
{
	char why[512], addr[USERDB_MAX_ADDR];
	if (!userdb_norm_address(a[0], addr))
		return cmd_error("\"%s\" is not a valid address (local@domain)", a[0]);
	int r = dir_user_get(u->dir, addr, NULL);
	if (r != 1)
		return r < 0 ? unreadable(u) : cmd_error("no such user: %s", addr);
	char *pw = userctl_read_password("New password: ", true);
	if (!pw)
		return 1;
	r = dir_user_passwd(u->dir, addr, pw, why, sizeof why);
	userctl_free_password(pw);
	return r < 0 ? fail(why) : 0;
}

static void print_user(const char *address, const struct userdb_user *e, void *arg)
{
	printf("%s\n", address);
}

static int user_list(struct userctl *u, char **a, int n)
{
	char d[USERDB_MAX_DOMAIN + 1];
	if (n == 1 && !userdb_norm_domain(a[0], d))
		return cmd_error("\"%s\" is not a valid domain name", a[0]);
	return dir_user_list(u->dir, n == 1 ? d : NULL, print_user, NULL) < 0 ? unreadable(u) : 0;
}

/* The entry of an existing user, or an error printed (1). */
static int get_user(struct userctl *u, const char *arg, char *addr, struct userdb_user *e)
{
	if (!userdb_norm_address(arg, addr))
		return cmd_error("\"%s\" is not a valid address (local@domain)", arg);
	int r = dir_user_get(u->dir, addr, e);
	if (r != 1)
		return r < 0 ? unreadable(u) : cmd_error("no such user: %s", addr);
	return 0;
}

static int user_quota(struct userctl *u, char **a, int n)
{
	char why[512], addr[USERDB_MAX_ADDR];
	struct userdb_user e;
	uint64_t quota;
	if (n == 1) {
		if (get_user(u, a[0], addr, &e))
			return 1;
		printf("%llu\n", (unsigned long long)e.quota);
		return 0;
	}
	if (!userctl_parse_size(a[1], &quota))
		return cmd_error("bad size \"%s\" (bytes, or a number with k, m or g; 0 = no quota)", a[1]);
	return dir_user_set_quota(u->dir, a[0], quota, why, sizeof why) < 0 ? fail(why) : 0;
}

static int user_host(struct userctl *u, char **a, int n)
{
	char why[512], addr[USERDB_MAX_ADDR];
	struct userdb_user e;
	if (n == 1) {
		if (get_user(u, a[0], addr, &e))
			return 1;
		printf("%s\n", e.host);
		return 0;
	}
	return dir_user_set_host(u->dir, a[0], a[1], why, sizeof why) < 0 ? fail(why) : 0;
}

static int user_move(struct userctl *u, char **a, int n)
{
	return userctl_move(u, a[0], a[1]);
}

static int user_receive(struct userctl *u, char **a, int n)
{
	return userctl_receive(u);
}

static int user_auth(struct userctl *u, char **a, int n)
{
	return userctl_auth(&u->in, a[0]);
}

static int user_key(struct userctl *u, char **a, int n)
{
	return userctl_key(u, a, n);
}

static const struct userctl_sub user_subs[] = {
	{ "add", 1, 4, user_add, "user add ADDRESS [SIZE] [--host HOST]",
	  "add a user of a local domain and create its Maildir (--host: the user's mailbox host, which "
	  "keeps the Maildir); password: prompt on a tty, else one line on stdin" },
	{ "del", 1, 1, user_del, "user del ADDRESS", "remove a user (the Maildir is kept)" },
	{ "passwd", 1, 1, user_passwd, "user passwd ADDRESS",
	  "set a new password (prompt on a tty, else one line on stdin)" },
	{ "list", 0, 1, user_list, "user list [DOMAIN]", "print the users, one address a line" },
	{ "quota", 1, 2, user_quota, "user quota ADDRESS [SIZE]",
	  "print the quota in bytes, or set it (k, m, g suffixes; 0 = no quota)" },
	{ "host", 1, 2, user_host, "user host ADDRESS [HOST]",
	  "print the user's mailbox host (empty: none, this host), or set it without moving mail "
	  "(to move the mail too: mailctl user move)" },
	{ "move", 2, 2, user_move, "user move ADDRESS HOST",
	  "move the user's mail to mailbox host HOST (run on its current mailbox host, as root): "
	  "new mail waits in the queues meanwhile, the Maildir goes with its index (UIDs and flags "
	  "kept) through site_copy_command, then the directory names HOST; the old copy is kept "
	  "in MAIL/.moved/ (docs/SCALING.md)" },
	{ "receive", 0, 0, user_receive, "user receive",
	  "the other end of `user move` (site_copy_command runs it on the new host): unpack the "
	  "copy from stdin for a user being moved" },
	{ "key", 2, 4, user_key, "user key ADDRESS import FILE [--force] | show | del",
	  "the user's S/MIME certificate (PEM) or OpenPGP public key (armoured) for encryption at rest: "
	  "mail is then stored readable only with the private key (lose it and that mail is lost); "
	  "--force takes a key that names another address" },
	{ "auth", 1, 1, user_auth, "user auth ADDRESS",
	  "check a password (read like passwd) with the running auth service: prints ok or failed" },
};

int cmd_user(const char *dir, int argc, char **argv)
{
	return userctl_run_sub("user", user_subs, ARRAY_LEN(user_subs), dir, argc, argv,
		       "user add|del|passwd|list|quota|host|move|receive|key|auth [ADDRESS] [SIZE|HOST]");
}

/* ---- alias ---- */

/* Targets may come as one comma-separated argument or several arguments. */
static char *join_args(char **a, int n)
{
	char *s = xstrdup("");
	for (int i = 0; i < n; i++) {
		char *t = xasprintf("%s%s%s", s, i ? "," : "", a[i]);
		free(s);
		s = t;
	}
	return s;
}

static int alias_add(struct userctl *u, char **a, int n)
{
	char why[512];
	char *targets = join_args(a + 1, n - 1);
	int r = dir_alias_add(u->dir, a[0], targets, why, sizeof why);
	free(targets);
	return r < 0 ? fail(why) : 0;
}

static int alias_del(struct userctl *u, char **a, int n)
{
	char why[512];
	char *targets = join_args(a + 1, n - 1);
	int r = dir_alias_del(u->dir, a[0], targets, why, sizeof why);
	free(targets);
	return r < 0 ? fail(why) : 0;
}

static void print_alias(const char *key, const char *targets, void *arg)
{
	printf("%s %s\n", key, targets);
}

static int alias_list(struct userctl *u, char **a, int n)
{
	char d[USERDB_MAX_DOMAIN + 1];
	if (n == 1 && !userdb_norm_domain(a[0], d))
		return cmd_error("\"%s\" is not a valid domain name", a[0]);
	return dir_alias_list(u->dir, n == 1 ? d : NULL, print_alias, NULL) < 0 ? unreadable(u) : 0;
}

static const struct userctl_sub alias_subs[] = {
	{ "add", 2, USERDB_MAX_TARGETS, alias_add, "alias add ADDRESS TARGET[,TARGET...]",
	  "deliver mail for ADDRESS (or @DOMAIN: every unknown address of DOMAIN) to the targets" },
	{ "del", 1, USERDB_MAX_TARGETS, alias_del, "alias del ADDRESS [TARGET[,TARGET...]]",
	  "remove the given targets, or the whole alias" },
	{ "list", 0, 1, alias_list, "alias list [DOMAIN]", "print the aliases, one a line: ADDRESS TARGET,TARGET..." },
};

int cmd_alias(const char *dir, int argc, char **argv)
{
	return userctl_run_sub("alias", alias_subs, ARRAY_LEN(alias_subs), dir, argc, argv,
		       "alias add|del|list [ADDRESS] [TARGET[,TARGET...]]");
}
