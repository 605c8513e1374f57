/* accounts.c — create the unprivileged accounts with the system's useradd, so
 * the local policy (uid ranges, /etc/login.defs, nscd) is respected. */
#include "mailctl/accounts.h"
#include "mailctl/procs.h"
#include "mailctl/runprog.h"
#include "common/privdrop.h"

#include <pwd.h>
#include <stdio.h>
#include <unistd.h>

#define USERADD	"/usr/sbin/useradd"
#define NOLOGIN	"/usr/sbin/nologin"

static int create_account(const char *name, char *why, size_t whylen)
{
	char *argv[] = { USERADD, "--system", "--user-group", "--no-create-home",
			 "--home-dir", "/nonexistent", "--shell", NOLOGIN,
			 "--comment", "tern mail system", (char *)name, NULL };
	int rc = -1;
	/* useradd fails while another one holds /etc/passwd's lock: retry briefly. */
	for (int attempt = 0; attempt < 10; attempt++) {
		rc = run_prog(argv, 2, NULL, 0, 30);
		if (rc == 0 || getpwnam(name))
			return 0;
		if (rc != 10)	/* 10: cannot lock the password file */
			break;
		usleep(200000);
	}
	snprintf(why, whylen, "cannot create account %s (%s exited %d); create it with "
		 "`useradd --system --user-group --shell %s %s` and retry", name, USERADD, rc,
		 NOLOGIN, name);
	return -1;
}

int accounts_ensure(char *why, size_t whylen)
{
	if (!running_as_root())
		return 0;
	for (const char *const *a = tern_accounts; *a; a++)
		if (!getpwnam(*a) && create_account(*a, why, whylen) < 0)
			return -1;
	return 0;
}
