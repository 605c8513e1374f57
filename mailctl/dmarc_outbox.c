/* dmarc_outbox.c — report mails kept durably until queued has them (see
 * dmarc_outbox.h for the steps and why). */
#include "mailctl/dmarc_outbox.h"
#include "mailctl/runstate.h"
#include "common/instance.h"
#include "common/queue_submit.h"
#include "common/log.h"
#include "common/privdrop.h"
#include "common/queue_proto.h"
#include "common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_MAIL (64UL * 1024 * 1024)	/* a report mail is far smaller */
#define MAX_ENTRIES 100000		/* per directory listing */

static char *outbox_dir(const char *dmarc_dir)
{
	return xasprintf("%s/outbox", dmarc_dir);
}

/* Whoever runs the report (root by hand, the queue's account on schedule),
 * what it makes here belongs to the queue's account, so every later run can
 * read and remove it. */
static int give_to_queue(int dirfd, const char *path)
{
	uid_t uid;
	gid_t gid;
	if (!running_as_root() || account_ids(ACCT_QUEUED, &uid, &gid) < 0)
		return 0;
	return fchownat(dirfd, path, uid, gid, AT_SYMLINK_NOFOLLOW | (*path ? 0 : AT_EMPTY_PATH));
}

static int make_dir(const char *path)
{
	if (mkdir(path, 0700) < 0)
		return errno == EEXIST ? 0 : -1;
	return give_to_queue(AT_FDCWD, path);
}

static int write_file(const char *path, const char *a, size_t alen, const char *b, size_t blen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	if (give_to_queue(fd, "") < 0) {
		close(fd);
		return -1;
	}
	int r = write_all(fd, a, alen) == 0 && (!blen || write_all(fd, b, blen) == 0) &&
		fsync(fd) == 0 ? 0 : -1;
	int err = errno;
	close(fd);
	errno = err;
	return r;
}

int outbox_begin(struct outbox *ob, const char *dmarc_dir)
{
	memset(ob, 0, sizeof *ob);
	char *box = outbox_dir(dmarc_dir);
	uint32_t rnd = 0;
	if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
		rnd = (uint32_t)getpid();
	/* run names sort by time, so older runs are flushed first */
	ob->final = xasprintf("%s/%012lld-%08x", box, (long long)time(NULL), (unsigned)rnd);
	ob->tmp = xasprintf("%s.tmp", ob->final);
	ob->dir = xstrdup(dmarc_dir);
	int r = make_dir(box) < 0 || make_dir(ob->tmp) < 0 ? -1 : 0;
	free(box);
	return r;
}

/* An entry: three header lines, then the body (a mail, or a POST's bytes). */
static int add_entry(struct outbox *ob, const char *ext, const char *h1, const char *h2,
		     const char *h3, const char *body, size_t len)
{
	char *path = xasprintf("%s/%06u.%s", ob->tmp, ob->n++, ext);
	char *head = xasprintf("%s\n%s\n%s\n", h1, h2, h3);
	int r = write_file(path, head, strlen(head), body, len);
	free(head);
	free(path);
	return r;
}

int outbox_add(struct outbox *ob, const char *sender, const char *rcpt, const char *domain,
	       const char *mail)
{
	return add_entry(ob, "eml", sender, rcpt, domain, mail, strlen(mail));
}

int outbox_add_post(struct outbox *ob, const char *url, const char *ctype, const char *domain,
		    const unsigned char *body, size_t len)
{
	return add_entry(ob, "post", url, ctype, domain, (const char *)body, len);
}

static void free_ob(struct outbox *ob)
{
	free(ob->dir);
	free(ob->tmp);
	free(ob->final);
	memset(ob, 0, sizeof *ob);
}

/* A run directory holds only files we wrote. */
static void remove_dir(const char *d)
{
	DIR *dh = opendir(d);
	struct dirent *e;
	while (dh && (e = readdir(dh))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(dirfd(dh), e->d_name, 0) < 0)
			log_warn("dmarc report: cannot remove %s/%s: %s", d, e->d_name, strerror(errno));
	}
	if (dh)
		closedir(dh);
	if (rmdir(d) < 0 && errno != ENOENT)
		log_warn("dmarc report: cannot remove %s: %s", d, strerror(errno));
}

void outbox_abort(struct outbox *ob)
{
	if (ob->tmp)
		remove_dir(ob->tmp);
	free_ob(ob);
}

/* Remove the record files a committed run lists (step 2's end; again after a
 * crash, when some are gone already). */
static void remove_sources(const char *dmarc_dir, const char *run)
{
	char *list = xasprintf("%s/sources", run);
	FILE *f = fopen(list, "r");
	free(list);
	if (!f)
		return;
	char line[512];
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		/* names only, never a path out of the directory */
		if (!line[0] || strchr(line, '/') || line[0] == '.')
			continue;
		char *p = xasprintf("%s/%s", dmarc_dir, line);
		if (unlink(p) < 0 && errno != ENOENT)
			log_warn("dmarc report: cannot remove %s: %s", p, strerror(errno));
		free(p);
	}
	fclose(f);
	fsync_dir(dmarc_dir);
}

int outbox_commit(struct outbox *ob, char *const *sources, size_t n)
{
	char *text = xstrdup("");
	for (size_t i = 0; i < n; i++) {
		const char *base = strrchr(sources[i], '/');
		char *t = xasprintf("%s%s\n", text, base ? base + 1 : sources[i]);
		free(text);
		text = t;
	}
	char *path = xasprintf("%s/sources", ob->tmp);
	int r = write_file(path, text, strlen(text), NULL, 0) == 0 && fsync_dir(ob->tmp) == 0 &&
		rename(ob->tmp, ob->final) == 0 ? 0 : -1;
	int err = errno;
	free(path);
	free(text);
	if (r < 0) {
		outbox_abort(ob);	/* not committed: the records are read again */
		errno = err;
		return -1;
	}
	/* Committed (the rename). Make it durable, then the records are done. */
	char *box = outbox_dir(ob->dir);
	if (fsync_dir(box) < 0)
		log_warn("dmarc report: fsync %s: %s", box, strerror(errno));
	free(box);
	remove_sources(ob->dir, ob->final);
	free_ob(ob);
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a > b && !strcmp(s + a - b, suffix);
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted entry names of d (without . and ..). */
static size_t list(const char *d, char ***out)
{
	DIR *dh = opendir(d);
	char **v = NULL;
	size_t n = 0;
	struct dirent *e;
	while (dh && (e = readdir(dh)) && n < MAX_ENTRIES) {
		if (e->d_name[0] == '.')
			continue;
		v = xrealloc(v, (n + 1) * sizeof *v);
		v[n++] = xstrdup(e->d_name);
	}
	if (dh)
		closedir(dh);
	if (n)
		qsort(v, n, sizeof *v, by_name);
	*out = v;
	return n;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Read an entry: three header lines into h, the body after them (NUL
 * terminated too, its length in len). The buffer to free, NULL if unreadable. */
static char *read_entry(const char *path, char *h[3], char **body, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || (uint64_t)st.st_size > MAX_MAIL) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	char *buf = xmalloc((size_t)st.st_size + 1);
	int r = read_full(fd, buf, (size_t)st.st_size);
	close(fd);
	buf[st.st_size] = '\0';
	char *a = buf, *b = r == 0 ? strchr(a, '\n') : NULL;
	char *c = b ? strchr(b + 1, '\n') : NULL, *d = c ? strchr(c + 1, '\n') : NULL;
	if (!d) {
		free(buf);
		return NULL;
	}
	*b = *c = *d = '\0';
	h[0] = a;
	h[1] = b + 1;
	h[2] = c + 1;
	*body = d + 1;
	*len = (size_t)(buf + st.st_size - *body);
	return buf;
}

/* The run's age from its name (its time comes first, see outbox_begin). */
static uint64_t run_age(const char *run)
{
	const char *base = strrchr(run, '/');
	long long t = strtoll(base ? base + 1 : run, NULL, 10), now = (long long)time(NULL);
	return t > 0 && now > t ? (uint64_t)(now - t) : 0;
}

/* Send one entry: true when it is done with (sent, refused, posted or given
 * up); *stop at a temporary failure of the queue. */
static bool send_entry(const char *run, const char *name, const struct outbox_senders *s,
		       bool *stop)
{
	bool post = ends_with(name, ".post");
	char *p = xasprintf("%s/%s", run, name), *h[3], *body;
	size_t len = 0;
	char *buf = read_entry(p, h, &body, &len);
	bool done = true;
	if (!buf) {
		log_err("dmarc report: unreadable report file %s dropped", p);
	} else if (post) {
		done = s->post(s->arg, h[0], h[1], h[2], (unsigned char *)body, len, run_age(run));
	} else {
		uint32_t st = s->mail(s->arg, h[0], h[1], h[2], body);
		done = st == QS_OK || st == QS_REJECT;
		*stop = !done;	/* queued unreachable or full: the rest waits */
	}
	if (done && unlink(p) < 0)
		log_warn("dmarc report: cannot remove %s: %s", p, strerror(errno));
	free(buf);
	free(p);
	return done;
}

/* Send every entry of one committed run; false at a temporary failure of
 * the queue. The run is removed once nothing is left in it. */
static bool flush_run(const char *run, const struct outbox_senders *s)
{
	char **names;
	size_t n = list(run, &names);
	bool stop = false, left = false;
	for (size_t i = 0; i < n && !stop; i++)
		if (ends_with(names[i], ".eml") || ends_with(names[i], ".post"))
			left |= !send_entry(run, names[i], s, &stop);
	free_list(names, n);
	if (!stop && !left)
		remove_dir(run);
	return !stop;
}

/* The clean-up, and the flush of each committed run when s is given. */
static bool each_run(const char *dmarc_dir, const struct outbox_senders *s)
{
	char *box = outbox_dir(dmarc_dir);
	char **runs;
	size_t n = list(box, &runs);
	bool ok = true;
	for (size_t i = 0; i < n; i++) {
		char *run = xasprintf("%s/%s", box, runs[i]);
		if (ends_with(runs[i], ".tmp")) {
			remove_dir(run);	/* never committed: its records are read again */
		} else {
			remove_sources(dmarc_dir, run);
			if (s && ok)
				ok = flush_run(run, s);
		}
		free(run);
	}
	free_list(runs, n);
	free(box);
	return ok;
}

void outbox_recover(const char *dmarc_dir)
{
	each_run(dmarc_dir, NULL);
}

bool outbox_flush(const char *dmarc_dir, const struct outbox_senders *s)
{
	return each_run(dmarc_dir, s);
}

#define QUEUE_WAIT_MS 60000	/* how long to wait for a restarting queued */

uint32_t outbox_queue_mail(const struct instance *in, const char *client, const char *sender,
			   const char *rcpt, const char *mail, char *err, size_t errlen)
{
	struct queue_submission qs;
	char *path = instance_sock(in, "queue");
	/* Wait for a restarting queued only while the instance runs at all. */
	uint64_t wait = master_running(in->run_dir) ? QUEUE_WAIT_MS : 0;
	uint32_t st = queue_submit_open(path, wait, &qs, err, errlen);
	free(path);
	if (st == QS_OK && write_all(qs.fd, mail, strlen(mail)) < 0) {
		snprintf(err, errlen, "writing the queue file failed: %s", strerror(errno));
		queue_submit_abort(&qs);
		st = QS_TEMPFAIL;
	} else if (st == QS_OK) {
		const char *rcpts[1] = { rcpt };
		const struct queue_envelope env = { .sender = sender, .flags = QF_LOCAL,
						    .client = client, .nrcpt = 1, .rcpts = rcpts };
		st = queue_submit_commit(&qs, &env, 120000, err, errlen);
	}
	return st;
}
