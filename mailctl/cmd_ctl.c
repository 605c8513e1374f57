/* cmd_ctl.c — stop, restart, reload, status: clients of the running master. */
#include "mailctl/commands.h"
#include "mailctl/control.h"
#include "mailctl/instctl.h"
#include "mailctl/master.h"
#include "mailctl/runstate.h"
#include "mailctl/site_status.h"
#include "common/util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATUS_TIMEOUT_MS 10000
#define RELOAD_TIMEOUT_MS 180000
#define STOP_TIMEOUT_MS_CLIENT 60000

int instance_require(const char *dir, struct instance *in)
{
	const char *d = instance_default_dir(dir);
	struct stat st;
	struct cfg_errors errs = { 0 };
	memset(in, 0, sizeof *in);
	if (stat(d, &st) < 0 || !S_ISDIR(st.st_mode))
		return cmd_error("%s: no such instance (create one with `mailctl init %s`, or pick "
				 "another with -c DIR)", d, d), -1;
	char *conf = xasprintf("%s/tern.conf", d);
	int ok = access(conf, R_OK) == 0;
	free(conf);
	if (!ok)
		return cmd_error("%s is not a tern instance (no readable tern.conf): create one with "
				 "`mailctl init %s`", d, d), -1;
	instance_load(in, d, &errs);
	return 0;
}

/* A multi-line failure from the master: detail lines as they are (file:line
 * errors), the last one as the mailctl error. */
static int print_failure(char *text)
{
	char *last = strrchr(text, '\n');
	if (!last)
		return cmd_error("%s", text);
	*last = '\0';
	fprintf(stderr, "%s\n", text);
	return cmd_error("%s", last + 1);
}

static bool denied(void)
{
	return errno == EACCES || errno == EPERM;
}

/* The master runs but its control socket did not answer. */
static int unreachable(const struct instance *in, pid_t pid)
{
	if (denied())
		return cmd_error("permission denied on %s/%s: run mailctl as root or as the user "
				 "who started the instance", in->run_dir, MASTER_SOCKET);
	return cmd_error("the master (pid %d) does not answer on %s/%s; try `mailctl restart`",
			 (int)pid, in->run_dir, MASTER_SOCKET);
}

static int not_running(const struct instance *in, int code)
{
	cmd_error("instance %s is not running (start it with `mailctl -c %s start`)", in->dir,
		  in->dir);
	return code;
}

int cmd_status(const char *dir, int argc, char **argv)
{
	struct instance in;
	char *text;
	if (cmd_wants_help(argc, argv, "status   (one line per process: NAME PID USER STATE; on a "
			   "front-end then one per mailbox host: mailbox-host NAME ADDRESS:PORT "
			   "answers|down (why))"))
		return 0;
	if (argc > 1)
		return cmd_error("status takes no arguments");
	if (instance_require(dir, &in) < 0)
		return 1;
	pid_t pid = master_running(in.run_dir);
	int rc = 0;
	if (!pid) {
		rc = not_running(&in, 3);
	} else if (ctl_request(in.run_dir, CTL_STATUS, STATUS_TIMEOUT_MS, &text) < 0) {
		rc = unreachable(&in, pid);
	} else {
		fputs(text, stdout);
		free(text);
		fflush(stdout);
		/* What the front-end relays to, and whether it can now. */
		site_status_print(&in, stdout);
	}
	instance_free(&in);
	return rc;
}

static int do_stop(struct instance *in, bool quiet)
{
	char *text = NULL;
	pid_t pid = master_running(in->run_dir);
	if (pid) {
		if (ctl_request(in->run_dir, CTL_STOP, STOP_TIMEOUT_MS_CLIENT, &text) < 0 &&
		    (denied() || kill(pid, SIGTERM) < 0))
			return unreachable(in, pid);
		free(text);
		if (!pid_wait_gone(pid, STOP_TIMEOUT_MS_CLIENT))
			return cmd_error("the master (pid %d) did not stop; end it with `kill -9 %d` "
					 "and run `mailctl stop` again", (int)pid, (int)pid);
	}
	/* After a master was killed, its daemons may still run: end them too. */
	int left = kill_instance_leftovers(in->dir);
	if (!pid && !left) {
		if (!quiet)
			fprintf(stderr, "mailctl: instance %s was not running\n", in->dir);
		return 0;
	}
	if (left)
		fprintf(stderr, "mailctl: stopped %d leftover process%s of %s\n", left,
			left == 1 ? "" : "es", in->dir);
	if (!quiet)
		printf("stopped %s\n", in->dir);
	return 0;
}

int cmd_stop(const char *dir, int argc, char **argv)
{
	struct instance in;
	if (cmd_wants_help(argc, argv, "stop   (stop every process; returns when all are gone)"))
		return 0;
	if (argc > 1)
		return cmd_error("stop takes no arguments");
	if (instance_require(dir, &in) < 0)
		return 1;
	int rc = do_stop(&in, false);
	instance_free(&in);
	return rc;
}

int cmd_restart(const char *dir, int argc, char **argv)
{
	struct instance in;
	if (cmd_wants_help(argc, argv, "restart   (stop, then start)"))
		return 0;
	if (argc > 1)
		return cmd_error("restart takes no arguments");
	if (instance_require(dir, &in) < 0)
		return 1;
	int rc = do_stop(&in, true);
	char *d = xstrdup(in.dir);
	instance_free(&in);
	if (rc == 0)
		rc = master_start(d);
	free(d);
	return rc;
}

int cmd_reload(const char *dir, int argc, char **argv)
{
	struct instance in;
	char *text = NULL;
	if (cmd_wants_help(argc, argv, "reload   (re-read every config; sessions are kept)"))
		return 0;
	if (argc > 1)
		return cmd_error("reload takes no arguments");
	if (instance_require(dir, &in) < 0)
		return 1;
	int rc = 0;
	pid_t pid = master_running(in.run_dir);
	if (!pid) {
		rc = not_running(&in, 1);
	} else {
		int r = ctl_request(in.run_dir, CTL_RELOAD, RELOAD_TIMEOUT_MS, &text);
		if (r < 0)
			rc = unreachable(&in, pid);
		else if (r > 0)
			rc = print_failure(text);
		else
			printf("%s %s\n", text, in.dir);
	}
	free(text);
	instance_free(&in);
	return rc;
}
