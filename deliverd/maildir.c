/* maildir.c — write one message into a Maildir++ mailbox, idempotently. */
#include "deliverd/maildir.h"
#include "deliverd/dirsync.h"
#include "deliverd/seal.h"
#include "common/mailcrypt.h"
#include "common/maildir_quota.h"
#include "common/util.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536
#define HEADER_SCAN_MAX (1024 * 1024)

bool maildir_safe_component(const char *s)
{
	if (!*s || *s == '.' || strlen(s) > 255)
		return false;
	for (; *s; s++)
		if (*s == '/' || (unsigned char)*s < 33 || *s == 127)
			return false;
	return true;
}

void mresult_set(struct mresult *r, int result, const char *status, const char *fmt, ...)
{
	r->result = result;
	strlcpy_t(r->status, status, sizeof r->status);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof r->text, fmt, ap);
	va_end(ap);
}

static uint64_t fnv64(const char *a, const char *b)
{
	uint64_t h = 1469598103934665603ull;
	for (const char *p = a; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	h = (h ^ 0) * 1099511628211ull;
	for (const char *p = b; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	return h;
}

static bool is_dir(const char *p);

/* cur/, new/ and tmp/ of dir, created (with the path to them) if missing. The
 * usual case, an existing Maildir, costs three stat calls, not a mkdir of
 * every path component. */
static int make_maildir(const char *dir)
{
	static const char *subs[] = { "cur", "new", "tmp" };
	bool all = true;
	for (size_t i = 0; i < ARRAY_LEN(subs) && all; i++) {
		char *p = xasprintf("%s/%s", dir, subs[i]);
		all = is_dir(p);
		free(p);
	}
	if (all)
		return 0;
	for (size_t i = 0; i < ARRAY_LEN(subs); i++) {
		char *p = xasprintf("%s/%s", dir, subs[i]);
		int r = mkdir_p(p, 0700);
		free(p);
		if (r < 0)
			return -1;
	}
	return 0;
}

static bool is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Copy the message converting CRLF to LF; counts bytes written and LFs. */
static int copy_body(int in, uint64_t size, int out, uint64_t *written, uint64_t *lfs)
{
	char *ibuf = xmalloc(CHUNK), *obuf = xmalloc(CHUNK + 1);
	uint64_t off = 0;
	bool held_cr = false;
	int rc = 0;
	while (off < size && rc == 0) {
		size_t want = size - off < CHUNK ? (size_t)(size - off) : CHUNK;
		ssize_t n = pread(in, ibuf, want, (off_t)off);
		if (n <= 0) {
			rc = -1;
			errno = n == 0 ? EIO : errno;
			break;
		}
		size_t o = 0;
		if (held_cr && ibuf[0] != '\n')
			obuf[o++] = '\r';
		held_cr = false;
		for (ssize_t i = 0; i < n; i++) {
			char c = ibuf[i];
			if (c == '\r') {
				if (i + 1 < n) {
					if (ibuf[i + 1] != '\n')
						obuf[o++] = c;
				} else {
					held_cr = true;
				}
				continue;
			}
			if (c == '\n')
				(*lfs)++;
			obuf[o++] = c;
		}
		if (write_all(out, obuf, o) < 0)
			rc = -1;
		*written += o;
		off += (uint64_t)n;
	}
	if (rc == 0 && held_cr) {
		rc = write_all(out, "\r", 1);
		*written += 1;
	}
	free(ibuf);
	free(obuf);
	return rc;
}

/* Is an entry of dir named name (exact), or starting with it (prefix)? */
static bool dir_has(const char *dir, const char *name, bool prefix, char end)
{
	size_t nl = strlen(name);
	bool found = false;
	DIR *d = opendir(dir);
	for (struct dirent *de; d && !found && (de = readdir(d));)
		found = !strncmp(de->d_name, name, nl) && (prefix || de->d_name[nl] == end);
	if (d)
		closedir(d);
	return found;
}

/* Already delivered? new/NAME, or in cur/ with flags appended (only looked for
 * when cur/ changed since the message arrived: the queue id starts with its
 * arrival time). A sealed copy's size differs at each encryption, so for a
 * mailbox with a key the name is matched up to its sizes (prefix), which
 * costs a read of new/. */
static bool already_there(const char *dir, const char *name, const char *qid, bool prefix)
{
	char *p = xasprintf("%s/new%s%s", dir, prefix ? "" : "/", prefix ? "" : name);
	bool found = prefix ? dir_has(p, name, true, 0) : access(p, F_OK) == 0;
	free(p);
	if (found)
		return true;
	char *cur = xasprintf("%s/cur", dir);
	struct stat st;
	unsigned long t = strtoul((char[9]){ qid[0], qid[1], qid[2], qid[3], qid[4], qid[5], qid[6], qid[7], 0 }, NULL, 16);
	if (stat(cur, &st) == 0 && (unsigned long)st.st_mtime + 1 >= t)
		found = dir_has(cur, name, prefix, ':');
	free(cur);
	return found;
}

void maildir_scan_header(int fd, uint64_t size, const char *mailbox, unsigned *hops, bool *has_dt)
{
	/* Most headers fit in the first 64 KiB; read more only when they do not. */
	size_t n = size < 65536 ? (size_t)size : 65536;
	char *buf = xmalloc(n + 1);
	ssize_t got = pread(fd, buf, n, 0);
	if (got == (ssize_t)n && n < size && !memmem(buf, n, "\n\r\n", 3) && !memmem(buf, n, "\n\n", 2)) {
		n = size < HEADER_SCAN_MAX ? (size_t)size : HEADER_SCAN_MAX;
		buf = xrealloc(buf, n + 1);
		got = pread(fd, buf, n, 0);
	}
	*hops = 0;
	*has_dt = false;
	if (got <= 0) {
		free(buf);
		return;
	}
	buf[got] = 0;
	size_t ml = strlen(mailbox);
	for (char *line = buf; line && *line;) {
		char *eol = strchr(line, '\n');
		if (line[0] == '\r' || line[0] == '\n')
			break;	/* end of header */
		if (!strncasecmp(line, "Received:", 9)) {
			(*hops)++;
		} else if (!strncasecmp(line, "Delivered-To:", 13)) {
			(*hops)++;
			char *v = line + 13;
			while (*v == ' ' || *v == '\t')
				v++;
			if (!strncasecmp(v, mailbox, ml) && (v[ml] == '\r' || v[ml] == '\n' ||
							    v[ml] == ' ' || v[ml] == 0))
				*has_dt = true;
		}
		line = eol ? eol + 1 : NULL;
	}
	free(buf);
}

static void target_dir(const struct mdeliver *d, const char *base, char **dir)
{
	*dir = NULL;
	if (*d->folder && maildir_safe_component(d->folder)) {
		char *f = xasprintf("%s/.%s", base, d->folder);
		if (is_dir(f)) {
			*dir = f;
			return;
		}
		free(f);
	}
	*dir = xstrdup(base);
}

static int write_failed(struct mresult *r, int e)
{
	mresult_set(r, MD_DEFER, e == ENOSPC || e == EDQUOT ? "4.3.1" : "4.3.0",
		    "cannot write to mailbox: %s", strerror(e));
	return -1;
}

/* What deliverd puts on top: Return-Path, Delivered-To and the prepended
 * fields (Authentication-Results), stored with LF like the rest. */
static int write_trace(const struct mdeliver *d, int out, uint64_t *s, uint64_t *lfs)
{
	char *hdr = xasprintf("Return-Path: <%s>\nDelivered-To: %s\n", d->sender, d->mailbox);
	*lfs = 2;
	*s = strlen(hdr);
	int rc = write_all(out, hdr, strlen(hdr));
	free(hdr);
	if (rc == 0 && d->prepend && *d->prepend) {
		/* W= counts the CRLF form. */
		char *p = xstrdup(d->prepend);
		size_t o = 0;
		for (size_t i = 0; p[i]; i++) {
			if (p[i] == '\r' && p[i + 1] == '\n')
				continue;
			*lfs += p[i] == '\n';
			p[o++] = p[i];
		}
		rc = write_all(out, p, o);
		*s += o;
		free(p);
	}
	return rc;
}

/* The file in tmp/: trace fields, then the message sealed to key (when
 * there is one and the message did not come encrypted) or as it came.
 * 0, or -1 with r set. */
static int write_copy(const struct mdeliver *d, const struct mc_key *key, const char *tmp,
		      uint64_t *s, uint64_t *w, bool *sealed, struct mresult *r)
{
	int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0)
		return write_failed(r, errno);
	uint64_t lfs = 0;
	int rc = write_trace(d, out, s, &lfs), how = SEAL_CLEAR;
	if (rc == 0 && key && (how = seal_write(d, key, out, s, &lfs, r)) == SEAL_FAILED) {
		close(out);
		return -1;
	}
	*sealed = how == SEAL_DONE;
	if (rc == 0 && how == SEAL_CLEAR)
		rc = copy_body(d->fd, d->size, out, s, &lfs);
	if (rc == 0 && fsync(out) < 0)
		rc = -1;
	int e = errno;
	if (close(out) < 0 && rc == 0) {
		rc = -1;
		e = errno;
	}
	*w = *s + lfs;
	return rc < 0 ? write_failed(r, e) : 0;
}

/* tmp/ -> new/NAME, NAME = STEM (queue id, mailbox hash, host, ending in a
 * comma) + sizes. A copy already there (a redelivery) is kept instead. */
static void store(const struct mdeliver *d, const char *base, const char *dir, const char *stem,
		  const struct mc_key *key, bool keyed, struct mresult *r)
{
	if (keyed && already_there(dir, stem, d->qid, true)) {
		mresult_set(r, MD_DELIVERED, "2.0.0", "already delivered to %s (duplicate suppressed)",
			    d->mailbox);
		return;
	}
	char *tmp = xasprintf("%s/tmp/%s%d.%lu", dir, stem, (int)getpid(), (unsigned long)pthread_self());
	uint64_t s = 0, w = 0;
	bool sealed = false, dup = false;
	if (write_copy(d, key, tmp, &s, &w, &sealed, r) < 0) {
		unlink(tmp);
		free(tmp);
		return;
	}
	char *final = xasprintf("%s/new/%sS=%llu,W=%llu", dir, stem, (unsigned long long)s,
				(unsigned long long)w);
	snprintf(r->path, sizeof r->path, "%s", final);
	dup = !keyed && already_there(dir, strrchr(final, '/') + 1, d->qid, false);
	int linked = dup ? 0 : link(tmp, final);
	dup = dup || (linked < 0 && errno == EEXIST);
	int e = errno;
	unlink(tmp);
	free(tmp);
	free(final);
	char *nd = xasprintf("%s/new", dir);
	if (linked < 0 && !dup)
		mresult_set(r, MD_DEFER, "4.3.0", "cannot link into new/: %s", strerror(e));
	else if (!dup && dirsync_after_link(nd) < 0)
		mresult_set(r, MD_DEFER, "4.3.0", "cannot sync mailbox directory: %s", strerror(errno));
	else
		mresult_set(r, MD_DELIVERED, "2.0.0", dup ? "already delivered to %s (duplicate suppressed)"
			    : sealed ? "delivered to maildir %s (encrypted)" : "delivered to maildir %s",
			    d->mailbox);
	free(nd);
	if (!dup && r->result == MD_DELIVERED && d->quota)
		mdq_add(base, s);
}

int maildir_deliver(const struct mdeliver *d, struct mresult *r)
{
	memset(r, 0, sizeof *r);
	const char *at = strrchr(d->mailbox, '@');
	char *local = at ? xstrndup(d->mailbox, (size_t)(at - d->mailbox)) : NULL;
	if (!at || !maildir_safe_component(local) || !maildir_safe_component(at + 1)) {
		mresult_set(r, MD_BOUNCE, "5.1.3", "mailbox name unusable as a path: %s", d->mailbox);
		free(local);
		return 0;
	}
	char *base = xasprintf("%s/%s/%s", d->mail_dir, at + 1, local);
	free(local);
	char *dir = NULL;
	const struct mc_key *key = NULL;
	bool keyed = false;
	if (make_maildir(base) < 0) {
		mresult_set(r, MD_DEFER, "4.3.0", "cannot create mailbox: %s", strerror(errno));
		goto out;
	}
	target_dir(d, base, &dir);
	if (d->quota && mdq_usage(base, d->quota) + d->size > d->quota) {
		if (d->quota_bounce)
			mresult_set(r, MD_BOUNCE, "5.2.2", "mailbox full: %s is over quota", d->mailbox);
		else
			mresult_set(r, MD_DEFER, "4.2.2", "mailbox full: %s is over quota", d->mailbox);
		goto out;
	}
	if (seal_plan(d, base, &key, &keyed, r) < 0)
		goto out;
	char host[128];
	strlcpy_t(host, d->hostname, sizeof host);
	for (char *p = host; *p; p++)
		if (*p == '/' || *p == ':' || *p == ',')
			*p = '_';
	char stem[256];
	snprintf(stem, sizeof stem, "%s.%016llx.%s,", d->qid,
		 (unsigned long long)fnv64(d->mailbox, d->folder), host);
	store(d, base, dir, stem, key, keyed, r);
out:
	free(dir);
	free(base);
	return 0;
}
