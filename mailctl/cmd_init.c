/* cmd_init.c — `mailctl init DIR`: a complete, self-contained instance, or
 * nothing at all (on any failure everything made so far is removed). */
#include "mailctl/accounts.h"
#include "mailctl/commands.h"
#include "mailctl/initdirs.h"
#include "mailctl/procs.h"
#include "mailctl/reach.h"
#include "mailctl/runprog.h"
#include "common/instance.h"
#include "common/tls.h"
#include "common/userdb.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define INIT_USAGE "init DIR [--hostname H] [--domain D] [--port-base N] [--listen ADDR[,ADDR...]]"
#define DEFAULT_PORT_BASE 10000

struct init_opts {
	const char *dir;
	char hostname[256];
	const char *domain;
	const char *listen;
	unsigned port_base;
};

static int valid_dns_name(const char *s)
{
	size_t n = strlen(s), label = 0;
	if (n == 0 || n > 253 || s[0] == '.' || s[n - 1] == '.')
		return 0;
	for (const char *p = s; *p; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return 0;
			label = 0;
		} else if (isalnum((unsigned char)*p) || (*p == '-' && label > 0)) {
			if (++label > 63)
				return 0;
		} else {
			return 0;
		}
	}
	return 1;
}

static int valid_listen(const char *list)
{
	char *copy = xstrdup(list), *save = NULL;
	int ok = 1, n = 0;
	unsigned char buf[16];
	for (char *a = strtok_r(copy, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
		a = str_trim(a);
		n++;
		if (inet_pton(AF_INET, a, buf) != 1 && inet_pton(AF_INET6, a, buf) != 1)
			ok = 0;
	}
	free(copy);
	return ok && n > 0;
}

static void default_hostname(char *buf, size_t len)
{
	if (gethostname(buf, len) < 0 || !valid_dns_name(buf) || !strchr(buf, '.'))
		strlcpy_t(buf, "localhost", len);
}

static int parse_args(int argc, char **argv, const char *cdir, struct init_opts *o)
{
	memset(o, 0, sizeof *o);
	o->port_base = DEFAULT_PORT_BASE;
	o->listen = "127.0.0.1";
	const char *host = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int has_val = i + 1 < argc;
		if (!strcmp(a, "--hostname") && has_val) {
			host = argv[++i];
		} else if (!strcmp(a, "--domain") && has_val) {
			o->domain = argv[++i];
		} else if (!strcmp(a, "--listen") && has_val) {
			o->listen = argv[++i];
		} else if (!strcmp(a, "--port-base") && has_val) {
			uint64_t v;
			const char *s = argv[++i];
			if (!parse_u64(s, 65535 - PORT_POP3S, &v))
				return cmd_error("--port-base %s: must be a number from 0 to %d so that "
						 "every port (up to N+%d) fits", s, 65535 - PORT_POP3S,
						 PORT_POP3S);
			o->port_base = (unsigned)v;
		} else if (a[0] == '-' && a[1]) {
			return cmd_error("init: unknown or incomplete option %s (usage: mailctl %s)", a,
					 INIT_USAGE);
		} else if (!o->dir) {
			o->dir = a;
		} else {
			return cmd_error("init: one directory only (usage: mailctl %s)", INIT_USAGE);
		}
	}
	if (!o->dir)
		o->dir = cdir;
	if (!o->dir || !*o->dir)
		return cmd_error("init: which directory? (usage: mailctl %s)", INIT_USAGE);
	if (host && !valid_dns_name(host))
		return cmd_error("--hostname %s: not a valid host name (letters, digits, '-' and '.')",
				 host);
	if (host)
		strlcpy_t(o->hostname, host, sizeof o->hostname);
	else
		default_hostname(o->hostname, sizeof o->hostname);
	if (o->domain && !valid_dns_name(o->domain))
		return cmd_error("--domain %s: not a valid domain name", o->domain);
	if (!valid_listen(o->listen))
		return cmd_error("--listen %s: give IPv4 or IPv6 addresses separated by commas, e.g. "
				 "127.0.0.1 or 0.0.0.0,::", o->listen);
	return 0;
}

/* The directory must be new (or empty) and its parent writable. Sets *exists. */
static int check_target(const char *dir, int *exists)
{
	struct stat st;
	char *copy = xstrdup(dir);
	char *parent = dirname(copy);
	int r = 0;
	*exists = stat(dir, &st) == 0;
	if (*exists) {
		char *conf = xasprintf("%s/tern.conf", dir);
		if (access(conf, F_OK) == 0)
			r = cmd_error("%s is already an instance (it has tern.conf); choose a new "
				      "directory, or remove it first", dir);
		else if (!S_ISDIR(st.st_mode))
			r = cmd_error("%s exists and is not a directory; choose a new directory", dir);
		else if (!dir_is_empty(dir))
			r = cmd_error("%s exists and is not empty; choose a new or empty directory", dir);
		else if (access(dir, W_OK | X_OK) < 0)
			r = cmd_error("cannot write to %s: %s; choose a directory you may write to",
				      dir, strerror(errno));
		free(conf);
	} else if (stat(parent, &st) < 0 || !S_ISDIR(st.st_mode)) {
		r = cmd_error("cannot create %s: parent directory %s does not exist; create it "
			      "first or choose another place", dir, parent);
	} else if (access(parent, W_OK | X_OK) < 0) {
		r = cmd_error("cannot create %s: parent directory %s is not writable (%s); choose a "
			      "directory you may write to, or run as root", dir, parent, strerror(errno));
	}
	free(copy);
	return r;
}

static int write_tern_conf(const char *dir, const struct init_opts *o)
{
	char port[16];
	snprintf(port, sizeof port, "%u", o->port_base);
	const char *ov[] = { "hostname", o->hostname, "port_base", port, "listen", o->listen,
			     "log", "file", NULL };
	char *path = xasprintf("%s/tern.conf", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	int r = fd < 0 || cfg_write_defaults(fd, "tern.conf — settings shared by every tern process",
					     tern_settings, ov) < 0 || fsync(fd) < 0;
	if (r)
		cmd_error("cannot write %s: %s; check the disk and retry", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(path);
	return r ? -1 : 0;
}

/* DIR/NAME.conf from `tern-NAME --print-config` (each setting declared once). */
static int write_daemon_conf(const char *dir, const char *name)
{
	char *bin_name = xasprintf("tern-%s", name);
	char *bin = tern_binary_path(bin_name);
	char *path = xasprintf("%s/%s.conf", dir, name);
	int r = -1;
	if (access(bin, X_OK) < 0) {
		cmd_error("%s not found: build it with `make` (or install with `make install`) "
			  "and run init again", bin);
		goto out;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		cmd_error("cannot create %s: %s", path, strerror(errno));
		goto out;
	}
	char *argv[] = { bin, "--print-config", NULL };
	int rc = run_prog(argv, fd, NULL, 0, 30);
	close(fd);
	if (rc != 0)
		cmd_error("%s --print-config failed (status %d); run it by hand to see why", bin, rc);
	else
		r = 0;
out:
	free(path);
	free(bin);
	free(bin_name);
	return r;
}

/* Every account can reach what it will open (else init fails, saying which
 * account, which path and what to change, instead of a later `start`). */
static int reachable(const char *dir)
{
	struct instance in;
	struct cfg_errors errs = { 0 };
	int r = 0;
	if (instance_load(&in, dir, &errs) == 0 && reach_check(&in, &errs) > 0) {
		for (int i = 0; i < errs.count; i++)
			fprintf(stderr, "mailctl: %s\n", errs.msg[i]);
		cmd_error("not creating %s: the daemons could not reach their directories", dir);
		r = -1;
	}
	instance_free(&in);
	return r;
}

static int make_instance(const char *dir, const struct init_opts *o)
{
	char why[512];
	if (write_tern_conf(dir, o) < 0)
		return -1;
	const char *names[32];
	size_t n = proc_conf_names(names, ARRAY_LEN(names));
	for (size_t i = 0; i < n; i++)
		if (write_daemon_conf(dir, names[i]) < 0)
			return -1;
	if (init_tls(dir, o->hostname) < 0 || init_data_dirs(dir) < 0)
		return -1;
	if (reachable(dir) < 0)
		return -1;
	if (o->domain) {
		char *db = xasprintf("%s/db", dir);
		int r = userdb_domain_add(db, o->domain, why, sizeof why);
		free(db);
		if (r < 0) {
			cmd_error("cannot add domain %s: %s", o->domain, why);
			return -1;
		}
	}
	return 0;
}

int cmd_init(const char *cdir, int argc, char **argv)
{
	struct init_opts o;
	int exists;
	char why[512], abs[PATH_MAX];
	if (cmd_wants_help(argc, argv, INIT_USAGE))
		return 0;
	/* The documented tern.conf with the installed defaults (make install). */
	if (argc == 2 && !strcmp(argv[1], "--print-config"))
		return cfg_write_defaults(1, "tern.conf — settings shared by every tern process",
					  tern_settings, NULL) < 0;
	if (parse_args(argc, argv, cdir, &o) || check_target(o.dir, &exists))
		return 1;
	if (accounts_ensure(why, sizeof why) < 0)
		return cmd_error("%s", why);
	if (!exists && mkdir(o.dir, 0755) < 0)
		return cmd_error("cannot create %s: %s; choose a directory you may write to", o.dir,
				 strerror(errno));
	if (!realpath(o.dir, abs)) {
		int e = errno;
		if (!exists)
			rmdir(o.dir);
		return cmd_error("cannot resolve %s: %s", o.dir, strerror(e));
	}
	/* The daemons' Unix sockets live in DIR/run: sun_path holds 107 bytes. */
	if (strlen(abs) + sizeof "/run/imap-mail.sock" > sizeof(((struct sockaddr_un *)0)->sun_path)) {
		if (!exists)
			rmdir(abs);
		return cmd_error("%s is too long a path for the instance's Unix sockets (at most %zu "
				 "characters); choose a shorter one", abs,
				 sizeof(((struct sockaddr_un *)0)->sun_path) - sizeof "/run/imap-mail.sock");
	}
	chmod(abs, 0755);
	if (make_instance(abs, &o) < 0) {
		remove_tree_contents(abs);
		if (!exists)
			rmdir(abs);
		return 1;
	}
	printf("created instance %s (hostname %s, ports %u+25/587/465/110/995/143/993/80/443 on %s)\n"
	       "start it with: mailctl -c %s start\n", abs, o.hostname, o.port_base, o.listen, abs);
	return 0;
}
