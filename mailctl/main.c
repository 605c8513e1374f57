/* mailctl — the master control program: instance set-up, the supervising
 * master (`start`), and administration. See PRODUCT.md section 4. */
#include "mailctl/commands.h"
#include "common/log.h"

#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct command {
	const char *name;
	int (*fn)(const char *dir, int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "init", cmd_init, "init DIR [--hostname H] [--domain D] [--port-base N] [--listen ADDR]" },
	{ "start", cmd_start, "start                 start every daemon of the instance" },
	{ "stop", cmd_stop, "stop                  stop every process of the instance" },
	{ "restart", cmd_restart, "restart" },
	{ "reload", cmd_reload, "reload                re-read configuration, keep sessions" },
	{ "status", cmd_status, "status                one line per process: NAME PID USER STATE" },
	{ "check", cmd_check, "check                 validate every config file" },
	{ "domain", cmd_domain, "domain add|del|list [DOMAIN]" },
	{ "user", cmd_user, "user add|del|passwd|list|quota|host|key|auth [ADDRESS] [SIZE]" },
	{ "alias", cmd_alias, "alias add|del|list [ADDRESS] [TARGET[,TARGET...]]" },
	{ "directory", cmd_directory, "directory init|export|import [FILE]" },
	{ "queue", cmd_queue, "queue [list] | show ID | flush | delete|hold|release ID|all | pause | resume | rebuild" },
	{ "sendmail", cmd_sendmail, "sendmail [-t] [-f SENDER] [-i] [RCPT...]" },
	{ "mailbox", cmd_mailbox, "mailbox index ADDRESS drop|rebuild" },
	{ "dkim", cmd_dkim, "dkim keygen|rotate DOMAIN [--selector S] [--algorithm rsa|ed25519] [--grace DAYS]" },
	{ "dns", cmd_dns, "dns DOMAIN [--check]  the DNS records the domain should publish (--check: which DNS serves)" },
	{ "dmarc", cmd_dmarc, "dmarc report [--dry-run] [--output DIR]   DMARC aggregate reports" },
	{ "tlsrpt", cmd_tlsrpt, "tlsrpt report [--dry-run] [--output DIR]  TLS reports (RFC 8460)" },
};

int cmd_error(const char *fmt, ...)
{
	va_list ap;
	fputs("mailctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

int cmd_wants_help(int argc, char **argv, const char *usage)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: mailctl [-c DIR] %s\n", usage);
			return 1;
		}
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: mailctl [-c DIR] COMMAND [ARGS]\n\n"
		   "DIR is the instance directory (default $TERN_CONFIG, else /etc/tern).\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %s\n", commands[i].summary);
	fprintf(f, "\nEvery command takes --help.\n");
}

int main(int argc, char **argv)
{
	const char *dir = NULL;
	int i = 1;

	log_init("mailctl", "stderr");
	/* Installed as `sendmail`: behave as `mailctl sendmail`. */
	if (!strcmp(basename(argv[0]), "sendmail"))
		return cmd_sendmail(NULL, argc, argv);
	while (i < argc && argv[i][0] == '-') {
		if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			dir = argv[i + 1];
			i += 2;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		} else {
			cmd_error("unknown option %s (try mailctl --help)", argv[i]);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
		if (!strcmp(argv[i], commands[k].name))
			return commands[k].fn(dir, argc - i, argv + i);
	cmd_error("unknown command \"%s\" (try mailctl --help)", argv[i]);
	return 2;
}
