/* cmd_users.c — `mailctl domain|user|alias ...` (PRODUCT.md section 4): edit the
 * user database directly (it works whether the instance runs or not; authd
 * reads the maps under a shared lock at every lookup, so changes apply at once). */
#include "mailctl/commands.h"
#include "mailctl/userctl.h"
#include "common/userdb.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sub {
	const char *name;
	int min_args, max_args;		/* after the subcommand word */
	int (*fn)(const struct instance *in, char **args, int nargs);
	const char *usage;
	const char *help;
};

static int run_sub(const char *group, const struct sub *subs, size_t nsubs, const char *dir,
		   int argc, char **argv, const char *group_usage)
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
		const struct sub *s = &subs[i];
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
		struct instance in;
		if (userctl_instance(dir, &in) < 0)
			return 1;
		int r = s->fn(&in, argv + 2, nargs);
		instance_free(&in);
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

static int fail(const char *why)
{
	return cmd_error("%s", why);
}

/* ---- domain ---- */

static void print_line(const char *s, void *arg) { printf("%s\n", s); }

static int domain_add(const struct instance *in, char **a, int n)
{
	char why[512];
	return userdb_domain_add(in->db_dir, a[0], why, sizeof why) < 0 ? fail(why) : 0;
}

static int domain_del(const struct instance *in, char **a, int n)
{
	char why[512];
	return userdb_domain_del(in->db_dir, a[0], why, sizeof why) < 0 ? fail(why) : 0;
}

static int domain_list(const struct instance *in, char **a, int n)
{
	if (userdb_domain_list(in->db_dir, print_line, NULL) < 0)
		return cmd_error("cannot read the domain database in %s", in->db_dir);
	return 0;
}

static const struct sub domain_subs[] = {
	{ "add", 1, 1, domain_add, "domain add DOMAIN", "make DOMAIN a local domain" },
	{ "del", 1, 1, domain_del, "domain del DOMAIN", "remove a local domain (it must have no users or aliases)" },
	{ "list", 0, 0, domain_list, "domain list", "print the local domains, one a line" },
};

int cmd_domain(const char *dir, int argc, char **argv)
{
	return run_sub("domain", domain_subs, ARRAY_LEN(domain_subs), dir, argc, argv,
		       "domain add|del|list [DOMAIN]");
}

/* ---- user ---- */

static int user_add(const struct instance *in, char **a, int n)
{
	char why[512], addr[USERDB_MAX_ADDR];
	uint64_t quota = 0;
	if (n == 2 && !userctl_parse_size(a[1], &quota))
		return cmd_error("bad size \"%s\" (bytes, or a number with k, m or g)", a[1]);
	if (!userdb_norm_address(a[0], addr) || strchr(addr, '+'))
		return cmd_error("\"%s\" is not a valid user address (local@domain, no '+')", a[0]);
	/* Check what we can before asking for the password. */
	int d = userdb_domain_exists(in->db_dir, userdb_domain_of(addr));
	if (d != 1)
		return d < 0 ? cmd_error("cannot read the domain database in %s", in->db_dir) :
			cmd_error("%s is not a local domain (add it with `mailctl domain add %s`)",
				  userdb_domain_of(addr), userdb_domain_of(addr));
	if (userdb_user_get(in->db_dir, addr, NULL) == 1)
		return cmd_error("user %s already exists (change the password with `mailctl user passwd`)", addr);
	char *pw = userctl_read_password("Password: ", true);
	if (!pw)
		return 1;
	int r = userdb_user_add(in->db_dir, addr, pw, quota, why, sizeof why);
	userctl_free_password(pw);
	if (r < 0)
		return fail(why);
	if (userctl_make_maildir(in->mail_dir, addr, why, sizeof why) < 0) {
		char why2[512];
		/* Nothing half-created: without its Maildir the user is removed again. */
		userdb_user_del(in->db_dir, addr, why2, sizeof why2);
		return fail(why);
	}
	return 0;
}

static int user_del(const struct instance *in, char **a, int n)
{
	char why[512];
	return userdb_user_del(in->db_dir, a[0], why, sizeof why) < 0 ? fail(why) : 0;
}

static int user_passwd(const struct instance *in, char **a, int n)
{
	char why[512], addr[USERDB_MAX_ADDR];
	if (!userdb_norm_address(a[0], addr))
		return cmd_error("\"%s\" is not a valid address (local@domain)", a[0]);
	if (userdb_user_get(in->db_dir, addr, NULL) != 1)
		return cmd_error("no such user: %s", addr);
	char *pw = userctl_read_password("New password: ", true);
	if (!pw)
		return 1;
	int r = userdb_user_passwd(in->db_dir, addr, pw, why, sizeof why);
	userctl_free_password(pw);
	return r < 0 ? fail(why) : 0;
}

static void print_user(const char *address, uint64_t quota, void *arg)
{
	printf("%s\n", address);
}

static int user_list(const struct instance *in, char **a, int n)
{
	char d[USERDB_MAX_DOMAIN + 1];
	if (n == 1 && !userdb_norm_domain(a[0], d))
		return cmd_error("\"%s\" is not a valid domain name", a[0]);
	if (userdb_user_list(in->db_dir, n == 1 ? d : NULL, print_user, NULL) < 0)
		return cmd_error("cannot read the user database in %s", in->db_dir);
	return 0;
}

static int user_quota(const struct instance *in, char **a, int n)
{
	char why[512], addr[USERDB_MAX_ADDR];
	uint64_t quota;
	if (!userdb_norm_address(a[0], addr))
		return cmd_error("\"%s\" is not a valid address (local@domain)", a[0]);
	if (n == 1) {
		int r = userdb_user_get(in->db_dir, addr, &quota);
		if (r != 1)
			return r < 0 ? cmd_error("cannot read the user database in %s", in->db_dir) :
				cmd_error("no such user: %s", addr);
		printf("%llu\n", (unsigned long long)quota);
		return 0;
	}
	if (!userctl_parse_size(a[1], &quota))
		return cmd_error("bad size \"%s\" (bytes, or a number with k, m or g; 0 = no quota)", a[1]);
	return userdb_user_set_quota(in->db_dir, addr, quota, why, sizeof why) < 0 ? fail(why) : 0;
}

static int user_auth(const struct instance *in, char **a, int n)
{
	return userctl_auth(in, a[0]);
}

static int user_key(const struct instance *in, char **a, int n)
{
	return userctl_key(in, a, n);
}

static const struct sub user_subs[] = {
	{ "add", 1, 2, user_add, "user add ADDRESS [SIZE]",
	  "add a user of a local domain and create its Maildir; password: prompt on a tty, else one line on stdin" },
	{ "del", 1, 1, user_del, "user del ADDRESS", "remove a user (the Maildir is kept)" },
	{ "passwd", 1, 1, user_passwd, "user passwd ADDRESS",
	  "set a new password (prompt on a tty, else one line on stdin)" },
	{ "list", 0, 1, user_list, "user list [DOMAIN]", "print the users, one address a line" },
	{ "quota", 1, 2, user_quota, "user quota ADDRESS [SIZE]",
	  "print the quota in bytes, or set it (k, m, g suffixes; 0 = no quota)" },
	{ "key", 2, 4, user_key, "user key ADDRESS import FILE [--force] | show | del",
	  "the user's S/MIME certificate (PEM) or OpenPGP public key (armoured) for encryption at rest: "
	  "mail is then stored readable only with the private key (lose it and that mail is lost); "
	  "--force takes a key that names another address" },
	{ "auth", 1, 1, user_auth, "user auth ADDRESS",
	  "check a password (read like passwd) with the running auth service: prints ok or failed" },
};

int cmd_user(const char *dir, int argc, char **argv)
{
	return run_sub("user", user_subs, ARRAY_LEN(user_subs), dir, argc, argv,
		       "user add|del|passwd|list|quota|key|auth [ADDRESS] [SIZE]");
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

static int alias_add(const struct instance *in, char **a, int n)
{
	char why[512];
	char *targets = join_args(a + 1, n - 1);
	int r = userdb_alias_add(in->db_dir, a[0], targets, why, sizeof why);
	free(targets);
	return r < 0 ? fail(why) : 0;
}

static int alias_del(const struct instance *in, char **a, int n)
{
	char why[512];
	char *targets = join_args(a + 1, n - 1);
	int r = userdb_alias_del(in->db_dir, a[0], targets, why, sizeof why);
	free(targets);
	return r < 0 ? fail(why) : 0;
}

static void print_alias(const char *key, const char *targets, void *arg)
{
	printf("%s %s\n", key, targets);
}

static int alias_list(const struct instance *in, char **a, int n)
{
	char d[USERDB_MAX_DOMAIN + 1];
	if (n == 1 && !userdb_norm_domain(a[0], d))
		return cmd_error("\"%s\" is not a valid domain name", a[0]);
	if (userdb_alias_list(in->db_dir, n == 1 ? d : NULL, print_alias, NULL) < 0)
		return cmd_error("cannot read the alias database in %s", in->db_dir);
	return 0;
}

static const struct sub alias_subs[] = {
	{ "add", 2, USERDB_MAX_TARGETS, alias_add, "alias add ADDRESS TARGET[,TARGET...]",
	  "deliver mail for ADDRESS (or @DOMAIN: every unknown address of DOMAIN) to the targets" },
	{ "del", 1, USERDB_MAX_TARGETS, alias_del, "alias del ADDRESS [TARGET[,TARGET...]]",
	  "remove the given targets, or the whole alias" },
	{ "list", 0, 1, alias_list, "alias list [DOMAIN]", "print the aliases, one a line: ADDRESS TARGET,TARGET..." },
};

int cmd_alias(const char *dir, int argc, char **argv)
{
	return run_sub("alias", alias_subs, ARRAY_LEN(alias_subs), dir, argc, argv,
		       "alias add|del|list [ADDRESS] [TARGET[,TARGET...]]");
}
