/* cmd_check.c — `mailctl check`: tern.conf, then `tern-NAME --check -c DIR` for
 * every config file of the process table, all errors reported as file:line. */
#include "mailctl/check.h"
#include "mailctl/commands.h"
#include "mailctl/instctl.h"
#include "mailctl/procs.h"
#include "mailctl/reach.h"
#include "mailctl/runprog.h"
#include "common/instance.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHECK_OUTPUT_MAX (64 * 1024)
#define CHECK_TIMEOUT_S	 30

/* One line of a daemon's --check: "file:line: warning: ..." is a warning, any
 * other an error. Several daemons read tern.conf: each problem is kept once. */
static void add_unique(struct cfg_errors *errs, const char *line)
{
	bool warning = strstr(line, ": warning: ") != NULL;
	int n = warning ? errs->nwarn : errs->count;
	for (int i = 0; i < n; i++)
		if (!strcmp(warning ? errs->warn[i] : errs->msg[i], line))
			return;
	if (warning)
		cfg_warn(errs, "%s", line);
	else
		cfg_error(errs, "%s", line);
}

/* What the schema of tern.conf cannot say: listen is a list that must not be
 * empty (each address is checked by the schema). */
static void check_master_settings(const struct instance *in, struct cfg_errors *errs)
{
	char **addrs;
	size_t n = cfg_list(&in->conf, "listen", &addrs);
	if (n == 0)
		cfg_error(errs, "%s:%d: listen needs at least one address", in->conf.path,
			  cfg_key_line(&in->conf, "listen"));
	cfg_list_free(addrs, n);
}

/* Run one daemon's --check and collect its lines. */
static void check_daemon(const struct instance *in, const char *name, struct cfg_errors *errs)
{
	char *bin_name = xasprintf("tern-%s", name);
	char *bin = tern_binary_path(bin_name);
	char *argv[] = { bin, "--check", "-c", in->dir, NULL };
	char *out = NULL;
	if (access(bin, X_OK) < 0) {
		cfg_error(errs, "%s: program not found (build it with `make`, or `make install`)", bin);
		goto done;
	}
	int rc = run_prog(argv, -1, &out, CHECK_OUTPUT_MAX, CHECK_TIMEOUT_S);
	int lines = 0;
	for (char *save = NULL, *l = strtok_r(out ? out : "", "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		if (*str_trim(l)) {
			add_unique(errs, l);
			lines++;
		}
	}
	if (rc != 0 && !(rc == 1 && lines > 0))
		cfg_error(errs, "%s --check -c %s failed (%s %d); run it by hand to see why", bin,
			  in->dir, rc < 0 ? "error" : "exit status", rc);
done:
	free(out);
	free(bin);
	free(bin_name);
}

int instance_check(const char *dir, struct cfg_errors *errs)
{
	struct instance in;
	int before = errs->count;
	if (instance_load(&in, dir, errs) < 0 && !in.dir)
		return errs->count - before;
	if (access(in.conf.path, F_OK) == 0) {
		check_master_settings(&in, errs);
		check_site(&in, errs);
		reach_check(&in, errs);
		const char *names[32];
		size_t n = proc_conf_names(names, ARRAY_LEN(names));
		for (size_t i = 0; i < n; i++)
			check_daemon(&in, names[i], errs);
	}
	instance_free(&in);
	return errs->count - before;
}

int cmd_check(const char *dir, int argc, char **argv)
{
	if (cmd_wants_help(argc, argv, "check   (validate tern.conf and every daemon's config)"))
		return 0;
	if (argc > 1)
		return cmd_error("check takes no arguments (try mailctl check --help)");
	const char *d = instance_default_dir(dir);
	struct cfg_errors errs = { 0 };
	struct instance in;
	if (instance_require(dir, &in) < 0)
		return 1;
	instance_free(&in);
	int n = instance_check(d, &errs);
	for (int i = 0; i < errs.nwarn; i++)
		fprintf(stderr, "%s\n", errs.warn[i]);
	if (n == 0) {
		if (errs.nwarn)
			printf("%s: configuration ok, %d warning%s (listed on stderr)\n", d, errs.nwarn,
			       errs.nwarn == 1 ? "" : "s");
		else
			printf("%s: configuration ok\n", d);
		return 0;
	}
	for (int i = 0; i < errs.count; i++)
		fprintf(stderr, "%s\n", errs.msg[i]);
	return cmd_error("%d error%s in %s; fix %s and run `mailctl check` again", n,
			 n == 1 ? "" : "s", d, n == 1 ? "it" : "them");
}
