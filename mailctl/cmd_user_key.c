/* cmd_user_key.c — `mailctl user key ADDRESS import FILE [--force] | show | del`:
 * the user's S/MIME certificate or OpenPGP public key for encryption at rest
 * (common/mailcrypt.h). The key is checked (parses, in its validity period,
 * usable for encryption, names the user; a trial encryption) and only its
 * public part is stored, as MAIL/DOMAIN/LOCALPART/tern-pubkey, owned by the
 * mail store account (the delivery agent reads it at every delivery). */
#include "mailctl/commands.h"
#include "mailctl/userctl.h"
#include "common/mailcrypt.h"
#include "common/privdrop.h"
#include "common/directory.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char key_loss[] =
	"mail for %s is now stored encrypted: only the matching private key can read it.\n"
	"Keep that private key safe, with a backup: if it is lost, that mail is lost with it\n"
	"(tern keeps nothing that could decrypt it).";

/* The user's Maildir, or NULL after an error line. */
static char *user_maildir(struct userctl *u, const char *arg, char *addr)
{
	const struct instance *in = &u->in;
	if (!userdb_norm_address(arg, addr))
		return cmd_error("\"%s\" is not a valid address (local@domain)", arg), NULL;
	int r = dir_user_get(u->dir, addr, NULL);
	if (r != 1)
		return (r < 0 ? cmd_error("cannot read the directory: %s", dir_last_error())
			      : cmd_error("no such user: %s", addr)), NULL;
	const char *at = strchr(addr, '@');
	char *dir = xasprintf("%s/%s/%.*s", in->mail_dir, at + 1, (int)(at - addr), addr);
	struct stat st;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		cmd_error("%s has no Maildir (%s)", addr, dir);
		free(dir);
		return NULL;
	}
	return dir;
}

static char *read_key_file(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cmd_error("cannot open %s: %s", path, strerror(errno)), NULL;
	char *buf = xmalloc(MC_KEY_MAX + 1);
	size_t n = 0;
	ssize_t r;
	while (n <= MC_KEY_MAX && (r = read(fd, buf + n, MC_KEY_MAX + 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	if (n > MC_KEY_MAX) {
		free(buf);
		return cmd_error("%s: larger than %d bytes: not a key file", path, MC_KEY_MAX), NULL;
	}
	*len = n;
	return buf;
}

/* A real encryption of a small message, as delivery will do it. */
static int trial_seal(const struct mc_key *k, const struct instance *in, char *why, size_t whylen)
{
	static const char msg[] = "Subject: key check\r\n\r\ncheck\r\n";
	int src = memfd_create("keycheck", MFD_CLOEXEC), out = memfd_create("sealed", MFD_CLOEXEC);
	struct mc_opts o;
	struct mc_counts c;
	mc_opts_load(&in->conf, &o);
	int r = src < 0 || out < 0 || write_all(src, msg, sizeof msg - 1) < 0 ? MC_ERR_IO
		: mc_seal(k, &o, src, sizeof msg - 1, out, &c, why, whylen);
	if (r == MC_ERR_IO && !*why)
		snprintf(why, whylen, "%s", strerror(errno));
	if (src >= 0)
		close(src);
	if (out >= 0)
		close(out);
	return r == MC_SEALED ? 0 : -1;
}

/* Write text as DIR/tern-pubkey: a new file renamed over the old one, given
 * to the mail store account (working on a directory fd, O_NOFOLLOW: the
 * store account owns the directory). */
static int store_key(const char *dir, const char *text, size_t len)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return cmd_error("cannot open %s: %s", dir, strerror(errno));
	char tmp[64];
	snprintf(tmp, sizeof tmp, ".%s.%d", MC_KEY_FILE, (int)getpid());
	int fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	uid_t uid;
	gid_t gid;
	bool ok = fd >= 0 && write_all(fd, text, len) == 0 && fsync(fd) == 0;
	if (ok && running_as_root())
		ok = account_ids(ACCT_MAILSTORE, &uid, &gid) == 0 && fchown(fd, uid, gid) == 0;
	int e = errno;
	if (fd >= 0 && close(fd) < 0 && ok) {
		ok = false;
		e = errno;
	}
	if (ok && (renameat(dfd, tmp, dfd, MC_KEY_FILE) < 0 || fsync(dfd) < 0)) {
		ok = false;
		e = errno;
	}
	if (!ok)
		unlinkat(dfd, tmp, 0);
	close(dfd);
	return ok ? 0 : cmd_error("cannot store the key in %s: %s", dir, strerror(e));
}

static void print_info(const struct mc_key *k)
{
	struct mc_keyinfo info;
	mc_key_info(k, &info);
	char when[64] = "never";
	time_t t = (time_t)info.expires;
	struct tm tm;
	if (info.expires && gmtime_r(&t, &tm))
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("type: %s\n", info.kind == MC_SMIME ? "smime" : "openpgp");
	printf("fingerprint: %s\n", info.fingerprint);
	printf("expires: %s\n", when);
	printf("addresses: %s\n", *info.addresses ? info.addresses : "(none)");
}

#define SOON_DAYS 30

/* A key that stops working soon stops mail too (encrypt_failure): say so. */
static void warn_expiry(const struct mc_key *k)
{
	struct mc_keyinfo info;
	mc_key_info(k, &info);
	time_t t = (time_t)info.expires, now = time(NULL);
	struct tm tm;
	char when[64];
	if (!info.expires || t - now > SOON_DAYS * 86400 || !gmtime_r(&t, &tm))
		return;
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
	fprintf(stderr, "mailctl: warning: the key expires on %s; import a new one before then "
		"(tern.conf encrypt_failure says what happens to mail after)\n", when);
}

/* The address check: refuse a key for someone else unless forced. */
static int check_address(const struct mc_key *k, const char *addr, bool force)
{
	struct mc_keyinfo info;
	int n = mc_key_names(k, addr);
	if (n == 1)
		return 0;
	if (n < 0) {
		fprintf(stderr, "mailctl: warning: the key names no e-mail address; storing it for %s\n", addr);
		return 0;
	}
	mc_key_info(k, &info);
	if (!force)
		return cmd_error("the key is for %s, not %s (--force stores it anyway)", info.addresses, addr);
	fprintf(stderr, "mailctl: warning: the key is for %s, not %s; stored as asked (--force)\n",
		info.addresses, addr);
	return 0;
}

static int key_import(const struct instance *in, const char *dir, const char *addr,
		      const char *file, bool force)
{
	size_t len = 0, outlen = 0;
	char *text = read_key_file(file, &len), why[512] = "";
	if (!text)
		return 1;
	struct mc_key *k = NULL;
	int r = 1;
	if (mc_key_parse(text, len, &k, why, sizeof why) < 0)
		cmd_error("%s: %s", file, why);
	else if (mc_key_usable(k, time(NULL), why, sizeof why) < 0)
		cmd_error("%s: %s", file, why);
	else if (check_address(k, addr, force) != 0)
		;
	else if (trial_seal(k, in, why, sizeof why) < 0)
		cmd_error("%s: encryption to this key fails: %s", file, why);
	else {
		char *pub = mc_key_export(k, &outlen);
		r = pub && store_key(dir, pub, outlen) == 0 ? 0 : 1;
		if (!pub)
			cmd_error("%s: cannot re-encode the public key", file);
		free(pub);
	}
	if (r == 0) {
		print_info(k);
		warn_expiry(k);
		fprintf(stderr, "mailctl: ");
		fprintf(stderr, key_loss, addr);
		fprintf(stderr, "\n");
	}
	mc_key_free(k);
	free(text);
	return r;
}

static int key_show(const char *dir, const char *addr)
{
	struct mc_key *k = NULL;
	char why[512] = "";
	int r = mc_key_load(dir, &k, why, sizeof why);
	if (r <= 0)
		return r == 0 ? cmd_error("%s has no key", addr) : cmd_error("%s", why);
	print_info(k);
	printf("status: %s\n", mc_key_usable(k, time(NULL), why, sizeof why) == 0 ? "usable" : why);
	mc_key_free(k);
	return 0;
}

static int key_del(const char *dir, const char *addr)
{
	char *path = xasprintf("%s/%s", dir, MC_KEY_FILE);
	int r = unlink(path);
	int e = errno;
	free(path);
	if (r < 0)
		return e == ENOENT ? cmd_error("%s has no key", addr)
				   : cmd_error("cannot remove the key of %s: %s", addr, strerror(e));
	fprintf(stderr, "mailctl: new mail for %s is stored in clear from now on; what is stored "
		"encrypted stays so\n", addr);
	return 0;
}

int userctl_key(struct userctl *u, char **a, int n)
{
	const struct instance *in = &u->in;
	bool force = n == 4 && !strcmp(a[3], "--force");
	bool import = n >= 3 && !strcmp(a[1], "import") && (n == 3 || force);
	bool other = n == 2 && (!strcmp(a[1], "show") || !strcmp(a[1], "del"));
	if (!import && !other) {
		cmd_error("usage: mailctl [-c DIR] user key ADDRESS import FILE [--force] | show | del");
		return 2;
	}
	char addr[USERDB_MAX_ADDR];
	char *dir = user_maildir(u, a[0], addr);
	if (!dir)
		return 1;
	int r = import ? key_import(in, dir, addr, a[2], force)
		: !strcmp(a[1], "show") ? key_show(dir, addr) : key_del(dir, addr);
	free(dir);
	return r;
}
