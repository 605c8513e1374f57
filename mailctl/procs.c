/* procs.c — the master's process table. Add a line when a daemon is ready to be
 * supervised. Order matters: the master starts entries one after another, each
 * once the previous one reported ready, so servers come before their clients
 * (authd, then queued, then the delivery agents that connect to it; the mail
 * roles before the login processes that hand sessions to them). */
#include "mailctl/procs.h"
#include "common/privdrop.h"
#include "common/util.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef TERN_LIBEXECDIR
#define TERN_LIBEXECDIR "/usr/local/lib/tern"
#endif

const struct proc_def procs[] = {
	/* name            binary           role args       account          chroot     listening sockets                       reload             keys */
	{ "authd",           "tern-authd",    { NULL },       ACCT_AUTHD,     "db_dir",  { NULL },                                RELOAD_GENERATION, KEY_LOGIN },
	{ "queued",          "tern-queued",   { NULL },       ACCT_QUEUED,    NULL,      { NULL },                                RELOAD_IN_PLACE,   KEY_AGENT },
	{ "deliverd-local",  "tern-deliverd", { "--local" },  ACCT_MAILSTORE, NULL,      { NULL },                                RELOAD_GENERATION, KEY_AGENT },
	{ "deliverd-sts",    "tern-deliverd", { "--sts" },    ACCT_STS,       "run_dir", { NULL },                                RELOAD_GENERATION, 0 },
	{ "deliverd-remote", "tern-deliverd", { "--remote" }, ACCT_DELIVERD,  "run_dir", { NULL },                                RELOAD_GENERATION, KEY_AGENT },
	{ "pop3d-mail",      "tern-pop3d",    { "--mail" },   ACCT_MAILSTORE, NULL,      { NULL },                                RELOAD_GENERATION, KEY_LOGIN },
	{ "imapd-idle",      "tern-imapd",    { "--idle" },   ACCT_IMAPD,     "run_dir", { NULL },                                RELOAD_IN_PLACE,   0 },
	{ "imapd-mail",      "tern-imapd",    { "--mail" },   ACCT_MAILSTORE, NULL,      { NULL },                                RELOAD_GENERATION, KEY_LOGIN },
	{ "httpd-mail",      "tern-httpd",    { "--mail" },   ACCT_MAILSTORE, NULL,      { NULL },                                RELOAD_GENERATION, KEY_LOGIN },
	{ "smtpd",           "tern-smtpd",    { NULL },       ACCT_SMTPD,     "run_dir", { "smtp", "submission", "smtps", "smtp-internal", NULL }, RELOAD_GENERATION, 0 },
	{ "pop3d",           "tern-pop3d",    { NULL },       ACCT_POP3D,     "run_dir", { "pop3", "pop3s", NULL },               RELOAD_GENERATION, 0 },
	{ "imapd",           "tern-imapd",    { NULL },       ACCT_IMAPD,     "run_dir", { "imap", "imaps", NULL },               RELOAD_GENERATION, 0 },
	{ "httpd",           "tern-httpd",    { NULL },       ACCT_HTTPD,     "run_dir", { "http", "https", NULL },               RELOAD_GENERATION, 0 },
};
const size_t nprocs = ARRAY_LEN(procs);

const struct service services[] = {
	{ "smtp", 25 }, { "submission", 587 }, { "smtps", 465 },
	{ "pop3", 110 }, { "pop3s", 995 }, { "imap", 143 }, { "imaps", 993 },
	{ "http", 80 }, { "https", 443 },
	{ "smtp-internal", 24 },	/* a mailbox host's port for its front-ends (docs/SCALING.md) */
};
const size_t nservices = ARRAY_LEN(services);

const char *const tern_accounts[] = {
	ACCT_AUTHD, ACCT_SMTPD, ACCT_QUEUED, ACCT_DELIVERD, ACCT_POP3D, ACCT_IMAPD, ACCT_HTTPD,
	ACCT_MAILSTORE, ACCT_STS, NULL,
};

const struct service *service_find(const char *name)
{
	for (size_t i = 0; i < nservices; i++)
		if (!strcmp(services[i].name, name))
			return &services[i];
	return NULL;
}

const char *proc_conf_name(const struct proc_def *p)
{
	return strncmp(p->binary, "tern-", 5) ? p->binary : p->binary + 5;
}

size_t proc_conf_names(const char **out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < nprocs; i++) {
		const char *c = proc_conf_name(&procs[i]);
		size_t k = 0;
		while (k < n && strcmp(out[k], c))
			k++;
		if (k == n && n < max)
			out[n++] = c;
	}
	return n;
}

int proc_is_network(const struct proc_def *p)
{
	return p->listen[0] != NULL;
}

char *tern_binary_path(const char *binary)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			char *p = xasprintf("%s/%s", exe, binary);
			if (access(p, X_OK) == 0)
				return p;
			free(p);
		}
	}
	return xasprintf("%s/%s", TERN_LIBEXECDIR, binary);
}
