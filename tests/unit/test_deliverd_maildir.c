/* Unit tests: Maildir delivery (format, sizes, idempotency, folders, quota, loops). */
#include "deliverd/maildir.h"
#include "common/maildir_quota.h"
#include "common/mailcrypt.h"
#include "common/util.h"
#include "tests/unit/check.h"
#include "tests/unit/testkeys.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *msg = "Received: by a\r\nDelivered-To: other@example.test\r\nSubject: hi\r\n"
			 "\r\nline 1\r\nline 2\r\n";

static int spool_fd(void)
{
	char *p = xasprintf("%s/spool", check_tmpdir());
	int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
	free(p);
	if (write_all(fd, msg, strlen(msg)) < 0)
		return -1;
	/* trailer bytes after size must never reach the mailbox */
	if (write_all(fd, "TRAILER", 7) < 0)
		return -1;
	return fd;
}

static int count_dir(const char *dir, char *first, size_t len)
{
	DIR *d = opendir(dir);
	int n = 0;
	for (struct dirent *de; d && (de = readdir(d));) {
		if (de->d_name[0] == '.')
			continue;
		if (!n && first)
			snprintf(first, len, "%s", de->d_name);
		n++;
	}
	if (d)
		closedir(d);
	return n;
}

/* The one file of dir, read whole (malloc'd), or NULL. */
static char *only_file(const char *dir)
{
	char name[512] = "";
	if (count_dir(dir, name, sizeof name) != 1)
		return NULL;
	char *p = xasprintf("%s/%s", dir, name);
	int f = open(p, O_RDONLY);
	free(p);
	char *buf = xmalloc(65536);
	ssize_t n = f >= 0 ? read(f, buf, 65535) : -1;
	if (f >= 0)
		close(f);
	buf[n > 0 ? n : 0] = 0;
	return buf;
}

static void put_key(const char *base, long from, long to)
{
	EVP_PKEY *pk;
	char *pem;
	X509 *x = testkey_cert(&pk, &pem, "carol@example.test", from, to, "keyEncipherment");
	CHECK(check_put_file(base, "", MC_KEY_FILE, pem) == 0);
	X509_free(x);
	EVP_PKEY_free(pk);
	free(pem);
}

/* A mailbox with a key: sealed (no clear byte of the body or subject), a
 * redelivery finds the sealed copy although another encryption would have
 * another size, an expired key defers (4.7.5) or, with deliver_clear,
 * stores in clear. */
static void test_sealed(int fd, const char *mail)
{
	struct mc_opts crypt = { 0 };
	struct mdeliver d = { .mail_dir = mail, .mailbox = "carol@example.test", .folder = "",
			      .sender = "bob@example.test", .qid = "65A1B2C3D4E5F701",
			      .hostname = "mx.example.test", .fd = fd, .size = strlen(msg),
			      .crypt = &crypt };
	struct mresult r;
	char *base = xasprintf("%s/example.test/carol", mail), *newdir = xasprintf("%s/new", base);
	CHECK(mkdir_p(newdir, 0700) == 0);
	put_key(base, -60, 86400);
	CHECK(maildir_deliver(&d, &r) == 0 && r.result == MD_DELIVERED && strstr(r.text, "(encrypted)"));
	char *s = only_file(newdir);
	CHECK(s && strstr(s, "application/pkcs7-mime") && strstr(s, "Subject: [...]"));
	CHECK(s && !strstr(s, "line 1") && !strstr(s, "Subject: hi"));
	CHECK(s && !strncmp(s, "Return-Path: <bob@example.test>\nDelivered-To: carol@example.test\n"
			    "Received: by a\n", 67));
	free(s);
	CHECK(maildir_deliver(&d, &r) == 0 && strstr(r.text, "duplicate suppressed"));
	CHECK(count_dir(newdir, NULL, 0) == 1);

	d.qid = "65A1B2C3D4E5F702";
	put_key(base, -86400 * 10, -86400);
	CHECK(maildir_deliver(&d, &r) == 0 && r.result == MD_DEFER);
	CHECK_STR(r.status, "4.7.5");
	CHECK(strstr(r.text, "expired") != NULL);
	CHECK(count_dir(newdir, NULL, 0) == 1);
	char *tmp = xasprintf("%s/tmp", base);
	CHECK(count_dir(tmp, NULL, 0) == 0);
	crypt.clear_on_failure = true;
	CHECK(maildir_deliver(&d, &r) == 0 && r.result == MD_DELIVERED && !strstr(r.text, "encrypted"));
	CHECK(count_dir(newdir, NULL, 0) == 2);
	/* Without d.crypt (no site support), a key changes nothing. */
	d.crypt = NULL;
	d.qid = "65A1B2C3D4E5F703";
	CHECK(maildir_deliver(&d, &r) == 0 && r.result == MD_DELIVERED && !strstr(r.text, "encrypted"));
	free(tmp);
	free(base);
	free(newdir);
}

int main(void)
{
	int fd = spool_fd();
	char *mail = xasprintf("%s/mail", check_tmpdir());
	struct mdeliver d = { .mail_dir = mail, .mailbox = "alice@example.test", .folder = "",
			      .sender = "bob@example.test", .qid = "65A1B2C3D4E5F607",
			      .hostname = "mx.example.test", .fd = fd, .size = strlen(msg) };
	struct mresult r;
	CHECK(maildir_deliver(&d, &r) == 0 && r.result == MD_DELIVERED);
	char *newdir = xasprintf("%s/example.test/alice/new", mail);
	char name[512] = "";
	CHECK(count_dir(newdir, name, sizeof name) == 1);
	char *path = xasprintf("%s/%s", newdir, name);
	char buf[4096];
	int f = open(path, O_RDONLY);
	ssize_t n = read(f, buf, sizeof buf - 1);
	close(f);
	buf[n > 0 ? n : 0] = 0;
	const char *want = "Return-Path: <bob@example.test>\nDelivered-To: alice@example.test\n"
			   "Received: by a\nDelivered-To: other@example.test\nSubject: hi\n\nline 1\nline 2\n";
	CHECK_STR(buf, want);
	char sw[64];
	snprintf(sw, sizeof sw, ",S=%zu,W=%zu", strlen(want), strlen(want) + 8);
	CHECK(strstr(name, sw) != NULL);
	CHECK(!strncmp(name, "65A1B2C3D4E5F607.", 17));

	/* Redelivery: nothing new, still reported delivered. */
	CHECK(maildir_deliver(&d, &r) == 0 && r.result == MD_DELIVERED);
	CHECK(strstr(r.text, "duplicate suppressed") != NULL);
	CHECK(count_dir(newdir, NULL, 0) == 1);
	/* ... also once a client moved it to cur/ with flags. */
	char *cur = xasprintf("%s/example.test/alice/cur/%s:2,S", mail, name);
	CHECK(rename(path, cur) == 0);
	CHECK(maildir_deliver(&d, &r) == 0 && r.result == MD_DELIVERED);
	CHECK(count_dir(newdir, NULL, 0) == 0);
	char *tmpdir = xasprintf("%s/example.test/alice/tmp", mail);
	CHECK(count_dir(tmpdir, NULL, 0) == 0);

	/* +detail folder: used when it exists, else INBOX. */
	char *work = xasprintf("%s/example.test/alice/.work/new", mail);
	CHECK(mkdir_p(work, 0700) == 0);
	char *wt = xasprintf("%s/example.test/alice/.work/tmp", mail);
	CHECK(mkdir_p(wt, 0700) == 0);
	d.folder = "work";
	CHECK(maildir_deliver(&d, &r) == 0 && r.result == MD_DELIVERED);
	CHECK(count_dir(work, NULL, 0) == 1);
	d.folder = "../../etc";
	d.qid = "65A1B2C3D4E5F608";
	CHECK(maildir_deliver(&d, &r) == 0 && r.result == MD_DELIVERED);
	CHECK(count_dir(newdir, NULL, 0) == 1);	/* unsafe folder: INBOX */

	/* Quota: usage counts every folder; defer, or bounce when asked. */
	char *base = xasprintf("%s/example.test/alice", mail);
	uint64_t used = mdq_count(base);
	free(base);
	CHECK(used == 3 * strlen(want));
	d.folder = "";
	d.qid = "65A1B2C3D4E5F609";
	d.quota = used + 10;
	CHECK(maildir_deliver(&d, &r) == 0 && r.result == MD_DEFER);
	CHECK_STR(r.status, "4.2.2");
	d.quota_bounce = true;
	CHECK(maildir_deliver(&d, &r) == 0 && r.result == MD_BOUNCE);
	CHECK_STR(r.status, "5.2.2");

	/* maildirsize: made on first use, appended on delivery. */
	d.quota_bounce = false;
	d.quota = 1000000;
	d.qid = "65A1B2C3D4E5F60A";
	char *abase = xasprintf("%s/example.test/alice", mail);
	uint64_t before = mdq_usage(abase, d.quota);
	CHECK(before == used);
	CHECK(maildir_deliver(&d, &r) == 0 && r.result == MD_DELIVERED);
	CHECK(mdq_usage(abase, d.quota) == used + strlen(want));
	CHECK(mdq_count(abase) == used + strlen(want));
	CHECK(mdq_usage(abase, 2000000) == used + strlen(want));	/* quota changed: recount */
	free(abase);

	/* Unsafe mailbox names never become paths. */
	d.quota = 0;
	d.mailbox = "../x@example.test";
	CHECK(maildir_deliver(&d, &r) == 0 && r.result == MD_BOUNCE);
	d.mailbox = "x@../../tmp";
	CHECK(maildir_deliver(&d, &r) == 0 && r.result == MD_BOUNCE);

	/* Loop checks. */
	unsigned hops;
	bool dt;
	maildir_scan_header(fd, strlen(msg), "other@example.test", &hops, &dt);
	CHECK(hops == 2 && dt);
	maildir_scan_header(fd, strlen(msg), "alice@example.test", &hops, &dt);
	CHECK(hops == 2 && !dt);
	test_sealed(fd, mail);
	close(fd);
	free(mail);
	free(newdir);
	free(path);
	free(cur);
	free(tmpdir);
	free(work);
	free(wt);
	return check_summary("deliverd_maildir");
}
