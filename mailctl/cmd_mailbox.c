/* cmd_mailbox.c — `mailctl mailbox index ADDRESS drop|rebuild`: drop a user's
 * folder indexes (each is rebuilt from its Maildir on the next open, with a new
 * UIDVALIDITY) or rebuild them now. The work runs as the mail store account so
 * the new index files belong to it. */
#include "mailctl/commands.h"
#include "mailctl/userctl.h"
#include "common/mailindex.h"
#include "common/privdrop.h"
#include "common/util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static const char usage[] = "mailbox index ADDRESS drop|rebuild";

static bool is_folder(const char *root, const char *name)
{
	char *p = xasprintf("%s/%s/cur", root, name);
	struct stat st;
	bool r = stat(p, &st) == 0 && S_ISDIR(st.st_mode);
	free(p);
	return r;
}

/* Apply to the INBOX and every Maildir++ folder; returns the failures. */
static int each_folder(const char *root, bool rebuild)
{
	DIR *d = opendir(root);
	if (!d) {
		cmd_error("cannot open %s", root);
		return 1;
	}
	int failures = 0, count = 0;
	struct dirent *e;
	char *names[] = { "." };
	for (int first = 1;; first = 0) {
		const char *name;
		if (first) {
			name = names[0];
		} else {
			e = readdir(d);
			if (!e)
				break;
			name = e->d_name;
			if (name[0] != '.' || !strcmp(name, ".") || !strcmp(name, "..") ||
			    !is_folder(root, name))
				continue;
		}
		char *dir = xasprintf("%s/%s", root, name);
		if (mi_drop(dir) < 0) {
			failures++;
		} else if (rebuild) {
			char why[256];
			struct mi *mi = mi_open(dir, NULL, NULL, why, sizeof why);
			if (!mi) {
				cmd_error("%s", why);
				failures++;
			} else {
				printf("%s: %u messages, uidvalidity %u\n", first ? "INBOX" : name + 1,
				       mi_header(mi)->count, mi_header(mi)->uidvalidity);
				mi_close(mi);
			}
		}
		count++;
		free(dir);
	}
	closedir(d);
	if (!rebuild)
		printf("dropped %d folder indexes\n", count);
	return failures;
}

int cmd_mailbox(const char *dir, int argc, char **argv)
{
	if (cmd_wants_help(argc, argv, usage))
		return 0;
	if (argc != 4 || strcmp(argv[1], "index") || (strcmp(argv[3], "drop") && strcmp(argv[3], "rebuild")))
		return cmd_error("usage: mailctl [-c DIR] %s", usage);
	const char *addr = argv[2];
	const char *at = strchr(addr, '@');
	if (!at || at == addr || !at[1] || strchr(addr, '/') || addr[0] == '.' || at[1] == '.')
		return cmd_error("%s: not a mailbox address (user@domain)", addr);
	struct instance in;
	if (userctl_instance(dir, &in) < 0)
		return 1;
	char *root = xasprintf("%s/%s/%.*s", in.mail_dir, at + 1, (int)(at - addr), addr);
	instance_free(&in);
	struct stat st;
	if (stat(root, &st) < 0) {
		free(root);
		return cmd_error("%s has no Maildir", addr);
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		privdrop(ACCT_MAILSTORE, NULL);
		int failures = each_folder(root, !strcmp(argv[3], "rebuild"));
		fflush(stdout);
		_exit(failures ? 1 : 0);
	}
	free(root);
	int status;
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return cmd_error("cannot run as the mail store account");
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
