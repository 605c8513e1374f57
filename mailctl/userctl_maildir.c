/* userctl_maildir.c — create a user's Maildir++ at `user add` time.
 *
 * Running as root we create directories that belong to the mail store account,
 * inside a tree that account can write to; so every step works on directory
 * fds opened with O_NOFOLLOW (a symlink planted in the store cannot make root
 * chown or create something elsewhere). */
#include "mailctl/userctl.h"
#include "common/privdrop.h"
#include "common/userdb.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const folders[] = { ".Sent", ".Drafts", ".Trash", ".Junk", ".Archive" };
static const char *const subdirs[] = { "cur", "new", "tmp" };

struct owner {
	bool chown;
	uid_t uid;
	gid_t gid;
};

/* mkdir name in dirfd (kept if present), open it, give it to the owner. */
static int make_dir(int dirfd, const char *name, const struct owner *o)
{
	if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
		return -1;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (o->chown && fchown(fd, o->uid, o->gid) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* dir with cur/ new/ tmp/ inside. */
static int make_maildir_parts(int fd, const struct owner *o)
{
	for (size_t i = 0; i < ARRAY_LEN(subdirs); i++) {
		int sub = make_dir(fd, subdirs[i], o);
		if (sub < 0)
			return -1;
		close(sub);
	}
	return 0;
}

/* A Maildir++ folder is a maildir with an empty "maildirfolder" file. */
static int make_folder(int userfd, const char *name, const struct owner *o)
{
	int fd = make_dir(userfd, name, o);
	if (fd < 0)
		return -1;
	int r = make_maildir_parts(fd, o);
	int mf = r == 0 ? openat(fd, "maildirfolder", O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600) : -1;
	if (mf >= 0) {
		if (o->chown && fchown(mf, o->uid, o->gid) < 0)
			r = -1;
		close(mf);
	} else {
		r = -1;
	}
	close(fd);
	return r;
}

static int build(int mailfd, const char *domain, const char *local, const struct owner *o)
{
	int domfd = make_dir(mailfd, domain, o);
	if (domfd < 0)
		return -1;
	int userfd = make_dir(domfd, local, o);
	close(domfd);
	if (userfd < 0)
		return -1;
	int r = make_maildir_parts(userfd, o);
	for (size_t i = 0; r == 0 && i < ARRAY_LEN(folders); i++)
		r = make_folder(userfd, folders[i], o);
	if (r == 0)
		r = fsync(userfd);
	close(userfd);
	return r;
}

int userctl_make_maildir(const char *mail_dir, const char *address, char *why, size_t whylen)
{
	char a[USERDB_MAX_ADDR];
	struct owner o = { .chown = running_as_root() };
	if (!userdb_norm_address(address, a)) {
		snprintf(why, whylen, "\"%s\" is not a valid address", address);
		return -1;
	}
	if (o.chown && account_ids(ACCT_MAILSTORE, &o.uid, &o.gid) < 0) {
		snprintf(why, whylen, "account %s does not exist (mailctl init creates it when run as root)",
			 ACCT_MAILSTORE);
		return -1;
	}
	char *at = strchr(a, '@');
	*at = '\0';
	struct stat st;
	if (stat(mail_dir, &st) < 0) {
		/* No mail store yet (init makes it): create it for the store account. */
		if (mkdir_p(mail_dir, 0700) < 0 || (o.chown && chown(mail_dir, o.uid, o.gid) < 0)) {
			snprintf(why, whylen, "cannot create %s: %s", mail_dir, strerror(errno));
			return -1;
		}
	}
	int mailfd = open(mail_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mailfd < 0) {
		snprintf(why, whylen, "cannot open %s: %s", mail_dir, strerror(errno));
		return -1;
	}
	int r = build(mailfd, at + 1, a, &o);
	if (r < 0)
		snprintf(why, whylen, "cannot create the Maildir %s/%s/%s: %s", mail_dir, at + 1, a,
			 strerror(errno));
	close(mailfd);
	return r;
}
