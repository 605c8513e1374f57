/* cmd_queue.c — `mailctl queue ...`: administration requests to the running
 * queued over RUN/queue.sock (QUEUE_ADMIN_REQ). */
#include "mailctl/commands.h"
#include "mailctl/queue_admin.h"
#include "common/instance.h"
#include "common/ipc.h"
#include "common/queue_codec.h"
#include "common/queue_proto.h"
#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define USAGE "queue [list] | show ID | flush | delete ID|all | hold ID|all | release ID|all | pause | resume | rebuild"

static const struct {
	const char *name;
	bool needs_arg;
} verbs[] = {
	{ "list", false }, { "show", true }, { "flush", false }, { "delete", true },
	{ "hold", true }, { "release", true }, { "pause", false }, { "resume", false },
	{ "rebuild", false },
};

int queue_admin_each(const struct instance *in, const char *cmd, const char *arg,
		     void (*fn)(const char *line, bool ok, void *arg), void *fnarg)
{
	char *path = instance_sock(in, "queue");
	int s = ipc_connect(path);
	if (s < 0) {
		int r = cmd_error("cannot reach the queue manager at %s: %s (is the instance started?)",
				  path, strerror(errno));
		free(path);
		return -r;
	}
	free(path);
	struct ipc_msg m;
	ipc_msg_init(&m, QUEUE_ADMIN_REQ, 1);
	queue_admin_put(&m, cmd, arg);
	int sent = ipc_send(s, &m);
	ipc_msg_free(&m);
	if (sent < 0) {
		close(s);
		return -cmd_error("queue %s: cannot send the request", cmd);
	}
	uint32_t st = QS_MORE;
	while (st == QS_MORE) {
		if (ipc_recv(s, &m, 120000) < 0 || m.hdr.type != QUEUE_ADMIN_RES) {
			close(s);
			return -cmd_error("queue %s: no answer from the queue manager", cmd);
		}
		uint32_t n;
		const char **lines = queue_admin_res_get(&m, &st, &n);
		if (!lines) {
			ipc_msg_free(&m);
			close(s);
			return -cmd_error("queue %s: malformed answer from the queue manager", cmd);
		}
		for (uint32_t i = 0; i < n; i++)
			fn(lines[i], st == QS_OK || st == QS_MORE, fnarg);
		free(lines);
		ipc_msg_free(&m);
	}
	close(s);
	return st == QS_OK ? 0 : 1;
}

static void print_line(const char *line, bool ok, void *arg)
{
	if (ok)
		printf("%s\n", line);
	else
		fprintf(stderr, "mailctl: %s\n", line);
}

static int request(const struct instance *in, const char *cmd, const char *arg)
{
	return queue_admin_each(in, cmd, arg, print_line, NULL) ? 1 : 0;
}

int cmd_queue(const char *dir, int argc, char **argv)
{
	if (cmd_wants_help(argc, argv, USAGE))
		return 0;
	const char *verb = argc > 1 ? argv[1] : "list";
	size_t k;
	for (k = 0; k < ARRAY_LEN(verbs); k++)
		if (!strcmp(verbs[k].name, verb))
			break;
	if (k == ARRAY_LEN(verbs))
		return cmd_error("queue: unknown command \"%s\" (usage: mailctl %s)", verb, USAGE);
	int want = verbs[k].needs_arg ? 3 : 2;
	if (argc > want || (verbs[k].needs_arg && argc < 3))
		return cmd_error("queue %s: usage: mailctl %s", verb, USAGE);
	const char *arg = verbs[k].needs_arg ? argv[2] : "";
	struct instance in;
	struct cfg_errors errs = { 0 };
	if (instance_load(&in, instance_default_dir(dir), &errs) < 0) {
		for (int i = 0; i < errs.count; i++)
			cmd_error("%s", errs.msg[i]);
		return 1;
	}
	int r = request(&in, verb, arg);
	instance_free(&in);
	return r;
}
