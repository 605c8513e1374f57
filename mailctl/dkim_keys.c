/* dkim_keys.c — a new DKIM key of a domain written to its files and the
 * record to publish printed (dkim_rotate.h): for `mailctl dkim keygen` and for
 * the staged key of `mailctl dkim rotate`. */
#include "mailctl/dkim_rotate.h"
#include "mailctl/commands.h"
#include "common/privdrop.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	int r = write_all(fd, text, strlen(text));
	if (fsync(fd) < 0)
		r = -1;
	close(fd);
	return r;
}

void dkim_print_record(const char *selector, const char *domain, const char *txt)
{
	printf("%s._domainkey.%s. IN TXT (", selector, domain);
	for (size_t off = 0, n = strlen(txt); off < n; off += 250)
		printf(" \"%.250s\"", txt + off);
	printf(" )\n");
}

/* Has the selector any file yet (key, staged key, record, retirement)? */
static bool selector_used(const char *ddir, const char *selector)
{
	static const char *const suffixes[] = { ".key", ".txt", DKIM_STAGED_SUFFIX,
						 DKIM_RETIRED_SUFFIX };
	bool used = false;
	for (size_t i = 0; i < ARRAY_LEN(suffixes) && !used; i++) {
		char *p = xasprintf("%s/%s%s", ddir, selector, suffixes[i]);
		used = access(p, F_OK) == 0;
		free(p);
	}
	return used;
}

int dkim_write_key(const char *ddir, const char *domain, const char *selector,
		   const char *key_suffix, enum dkim_alg alg)
{
	char why[256], *pem, *txt;
	char *keyp = xasprintf("%s/%s%s", ddir, selector, key_suffix);
	char *txtp = xasprintf("%s/%s.txt", ddir, selector);
	int rc = -1;
	if (selector_used(ddir, selector)) {
		cmd_error("selector %s of %s exists; choose another --selector (keys are never "
			  "overwritten)", selector, domain);
		goto out;
	}
	if (mkdir_p(ddir, 0755) < 0) {
		cmd_error("cannot create %s: %s", ddir, strerror(errno));
		goto out;
	}
	if (dkim_keygen(alg, &pem, &txt, why, sizeof why) < 0) {
		cmd_error("%s", why);
		goto out;
	}
	if (write_file(keyp, pem, 0600) < 0 || write_file(txtp, txt, 0644) < 0) {
		cmd_error("cannot write %s: %s", keyp, strerror(errno));
		unlink(keyp);
	} else {
		uid_t uid;
		gid_t gid;
		if (running_as_root() && account_ids(ACCT_DELIVERD, &uid, &gid) == 0 &&
		    chown(keyp, uid, gid) < 0)
			cmd_error("warning: cannot give %s to %s", keyp, ACCT_DELIVERD);
		dkim_print_record(selector, domain, txt);
		rc = 0;
	}
	explicit_bzero(pem, strlen(pem));
	free(pem);
	free(txt);
out:
	free(keyp);
	free(txtp);
	return rc;
}
