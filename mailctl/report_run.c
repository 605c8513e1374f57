/* report_run.c — the report run shared by DMARC and TLS-RPT (report_run.h):
 * lock, flush, rotate, aggregate, commit, flush; the command line. */
#include "mailctl/report_run.h"
#include "mailctl/commands.h"
#include "mailctl/dmarc_files.h"
#include "mailctl/report_post.h"
#include "common/dns.h"
#include "common/instance.h"
#include "common/log.h"
#include "common/queue_proto.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

void report_say(const struct report_run *r, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (r->o->to_log)
		log_info("%s: %s", r->k->name, buf);
	else
		printf("%s\n", buf);
}

char *report_new_id(const struct report_run *r, char unique[24])
{
	uint64_t rnd = 0;
	if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
		rnd = now_ms() ^ (uint64_t)getpid();
	snprintf(unique, 24, "%016llx", (unsigned long long)rnd);
	return xasprintf("%s.%llu@%s", unique, (unsigned long long)r->now, r->in->hostname);
}

void report_keep(const struct report_run *r, const char *fname, const unsigned char *gz,
		 size_t len)
{
	if (!r->o->output)
		return;
	char *path = xasprintf("%s/%s", r->o->output, fname);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || write_all(fd, gz, len) < 0 || fsync(fd) < 0)
		cmd_error("%s: cannot write %s: %s", r->k->name, path, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(path);
}

int report_each_rua(struct report_run *r, const char *domain, const char *list, int max,
		    void (*fn)(struct report_run *r, const char *uri, void *arg), void *arg)
{
	char *copy = xstrdup(list), *save = NULL;
	int n = 0;
	for (char *u = strtok_r(copy, ",", &save); u; u = strtok_r(NULL, ",", &save)) {
		u = str_trim(u);
		if (!*u)
			continue;
		if (n++ >= max)
			report_say(r, "rua domain=%s uri=%s status=skipped reason=\"more than %d rua "
				   "URIs\"", domain, u, max);
		else
			fn(r, u, arg);
	}
	free(copy);
	return n;
}

void report_queue(struct report_run *r, const char *domain, const char *addr, const char *mail,
		  uint64_t limit)
{
	if (limit && strlen(mail) > limit) {
		report_say(r, "rua domain=%s to=%s status=refused reason=\"report of %zu bytes over "
			   "the !%llu limit\"", domain, addr, strlen(mail), (unsigned long long)limit);
	} else if (r->o->dry_run) {
		report_say(r, "rua domain=%s to=%s status=dry-run", domain, addr);
	} else if (!r->outbox_failed && outbox_add(&r->ob, r->from, addr, domain, mail) < 0) {
		cmd_error("%s: cannot write the outbox: %s", r->k->name, strerror(errno));
		r->outbox_failed = true;
	}
}

/* Queue one report mail the way `mailctl sendmail` does. (outbox_send_fn) */
static uint32_t submit(void *arg, const char *sender, const char *addr, const char *domain,
		       const char *mail)
{
	struct report_run *r = arg;
	char err[512];
	uint32_t st = outbox_queue_mail(r->in, r->k->name, sender, addr, mail, err, sizeof err);
	if (st != QS_OK)
		log_err("%s: to %s: %s", r->k->name, addr, err);
	report_say(r, "rua domain=%s to=%s status=%s", domain, addr,
		   st == QS_OK ? "sent" : st == QS_REJECT ? "refused" : "deferred");
	return st;
}

/* Read the record files into agg; bad lines are counted and logged. */
static void collect(struct report_run *r, char *const *files, size_t n, void *agg)
{
	uint64_t good = 0, bad = 0;
	for (size_t i = 0; i < n; i++)
		if (report_files_each(files[i], r->k->line_max, r->k->add_line, agg, &good, &bad) < 0)
			cmd_error("%s: cannot read %s: %s", r->k->name, files[i], strerror(errno));
	if (bad)
		log_warn("%s: %llu malformed record line(s) skipped", r->k->name,
			 (unsigned long long)bad);
	if (!good)
		report_say(r, "no records");
}

/* Aggregate the records and make the reports; outside a dry run their mails
 * go to the outbox, committed together with the removal of the records. */
static int make_reports(struct report_run *r, const char *dir)
{
	char **files = NULL;
	int rc = 0;
	if (!r->o->dry_run && outbox_begin(&r->ob, dir) < 0)
		return cmd_error("%s: cannot make an outbox in %s: %s", r->k->name, dir,
				 strerror(errno));
	void *agg = r->k->agg_new();
	size_t n = dmarc_files_list(dir, r->o->dry_run, &files);
	collect(r, files, n, agg);
	r->k->reports(r, agg);
	if (r->o->dry_run) {
		/* nothing to commit */
	} else if (r->outbox_failed) {
		outbox_abort(&r->ob);	/* the records stay for the next run */
		rc = REPORT_EX_TEMPFAIL;
	} else if (outbox_commit(&r->ob, files, n) < 0) {
		rc = cmd_error("%s: cannot commit the outbox: %s", r->k->name, strerror(errno));
	}
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	free(files);
	r->k->agg_free(agg);
	return rc;
}

/* Under the lock: finish what an earlier run left (before rotating, so that
 * no record is read twice), make this run's reports, then send the outbox,
 * oldest run first (so reports go out in order, and each waiting post is
 * tried once per run). */
static int locked_run(struct report_run *r, const char *dir)
{
	if (r->o->dry_run)
		return make_reports(r, dir);
	outbox_recover(dir);
	int rc = 0;
	if (dmarc_files_rotate(dir) < 0)
		rc = cmd_error("%s: cannot rotate the records in %s: %s", r->k->name, dir,
			       strerror(errno));
	if (!rc)
		rc = make_reports(r, dir);
	const struct outbox_senders s = { .mail = submit, .post = report_post_send, .arg = r };
	r->tempfail = !outbox_flush(dir, &s);
	return rc;
}

int report_run(const struct report_kind *k, const struct instance *in,
	       const struct report_opts *o)
{
	const char *from = cfg_str(&in->conf, k->from_key);
	struct report_run r = { .in = in, .k = k, .o = o, .now = (uint64_t)time(NULL),
				.from = *from ? xstrdup(from)
					: xasprintf("%s@%s", k->from_local, in->hostname) };
	char *dir = xasprintf("%s/%s", in->spool_dir, k->dir);
	int rc = 0, lock = -1;
	if (dns_init(cfg_str(&in->conf, "dns_server"), 5) < 0)
		rc = cmd_error("%s: bad dns_server in tern.conf", k->name);
	else if (access(dir, F_OK) < 0 && errno == ENOENT)
		report_say(&r, "no records");	/* the daemon never wrote any */
	else if ((lock = dmarc_files_lock(dir)) < 0)
		rc = cmd_error("%s: %s", k->name, errno == EWOULDBLOCK
			       ? "another report run is in progress" : strerror(errno));
	else
		rc = locked_run(&r, dir);
	if (!rc && (r.tempfail || r.post_waiting))
		rc = REPORT_EX_TEMPFAIL;	/* they wait in the outbox for the next run */
	if (lock >= 0)
		close(lock);
	report_post_end(&r);
	free(dir);
	free(r.from);
	return rc;
}

static int parse_opts(const struct report_kind *k, int argc, char **argv, struct report_opts *o,
		      const char *usage)
{
	if (argc < 2 || strcmp(argv[1], "report"))
		return cmd_error("usage: mailctl %s", usage), 2;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--dry-run"))
			o->dry_run = true;
		else if (!strcmp(argv[i], "--output") && i + 1 < argc)
			o->output = argv[++i];
		else if (!strcmp(argv[i], "--log"))
			o->to_log = true;	/* the master's scheduled run */
		else
			return cmd_error("usage: mailctl %s", usage), 2;
	}
	if (o->output && access(o->output, W_OK) < 0)
		return cmd_error("%s: cannot write to %s: %s", k->name, o->output, strerror(errno));
	return 0;
}

int report_cmd(const struct report_kind *k, const char *dir, int argc, char **argv)
{
	char usage[128];
	snprintf(usage, sizeof usage, "%s report [--dry-run] [--output DIR]", k->cmd);
	if (cmd_wants_help(argc, argv, usage))
		return 0;
	struct report_opts o = { 0 };
	int rc = parse_opts(k, argc, argv, &o, usage);
	if (rc)
		return rc;
	if (o.to_log)	/* stderr is the master's log file when it has one, else syslog */
		log_init(k->log_ident, getenv("TERN_LOG_FD") ? "stderr" : "syslog");
	struct instance in;
	struct cfg_errors errs = { 0 };
	if (instance_load(&in, instance_default_dir(dir), &errs) < 0) {
		for (int i = 0; i < errs.count; i++)
			cmd_error("%s", errs.msg[i]);
		rc = 1;
	} else {
		rc = report_run(k, &in, &o);
	}
	instance_free(&in);
	return rc;
}
