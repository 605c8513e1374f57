/* cmd_dkim.c — `mailctl dkim keygen DOMAIN [--selector S] [--algorithm rsa|ed25519]`.
 *
 * Writes DIR/dkim/DOMAIN/SELECTOR.key (mode 0600, owned by the remote delivery
 * account when run as root: the only process that signs), records the TXT value
 * in SELECTOR.txt beside it, and prints the DNS record to publish. */
#include "mailctl/commands.h"
#include "common/dkim.h"
#include "common/instance.h"
#include "common/privdrop.h"
#include "common/util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DKIM_USAGE "dkim keygen DOMAIN [--selector S] [--algorithm rsa|ed25519]"

static int valid_label_text(const char *s)
{
	if (!*s || strlen(s) > 253)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.' && *s != '_')
			return 0;
	return 1;
}

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

/* Print the record as a zone-file line, split into strings of at most 250
 * bytes (a TXT string holds 255). */
static void print_record(const char *selector, const char *domain, const char *txt)
{
	printf("%s._domainkey.%s. IN TXT (", selector, domain);
	for (size_t off = 0, n = strlen(txt); off < n; off += 250)
		printf(" \"%.250s\"", txt + off);
	printf(" )\n");
}

static int keygen(const char *dir, const char *domain, const char *selector, enum dkim_alg alg)
{
	struct instance in;
	struct cfg_errors errs = { 0 };
	char why[256], *pem, *txt;
	if (instance_load(&in, instance_default_dir(dir), &errs) < 0 && !in.dir)
		return cmd_error("%s", errs.msg[0]);
	char *ddir = xasprintf("%s/dkim/%s", in.dir, domain);
	char *keyp = xasprintf("%s/%s.key", ddir, selector);
	char *txtp = xasprintf("%s/%s.txt", ddir, selector);
	int rc = 1;
	if (access(keyp, F_OK) == 0) {
		cmd_error("%s exists; choose another --selector (keys are never overwritten)", keyp);
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
		print_record(selector, domain, txt);
		rc = 0;
	}
	explicit_bzero(pem, strlen(pem));
	free(pem);
	free(txt);
out:
	free(ddir);
	free(keyp);
	free(txtp);
	instance_free(&in);
	return rc;
}

int cmd_dkim(const char *dir, int argc, char **argv)
{
	const char *domain = NULL, *selector = "tern", *alg = "rsa";
	if (cmd_wants_help(argc, argv, DKIM_USAGE))
		return 0;
	if (argc < 3 || strcmp(argv[1], "keygen"))
		return cmd_error("usage: mailctl [-c DIR] %s", DKIM_USAGE);
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--selector") && i + 1 < argc)
			selector = argv[++i];
		else if (!strcmp(argv[i], "--algorithm") && i + 1 < argc)
			alg = argv[++i];
		else if (argv[i][0] != '-' && !domain)
			domain = argv[i];
		else
			return cmd_error("unexpected argument %s; usage: mailctl %s", argv[i], DKIM_USAGE);
	}
	if (!domain || !valid_label_text(domain) || !valid_label_text(selector) || strchr(selector, '.'))
		return cmd_error("need a domain name and a selector of letters, digits and '-'");
	if (strcmp(alg, "rsa") && strcmp(alg, "ed25519"))
		return cmd_error("--algorithm must be rsa or ed25519, not %s", alg);
	char *d = xstrdup(domain);
	str_lower(d);
	int rc = keygen(dir, d, selector, strcmp(alg, "rsa") ? DKIM_ALG_ED25519 : DKIM_ALG_RSA);
	free(d);
	return rc;
}
