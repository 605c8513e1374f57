/* cmd_dmarc.c — `mailctl dmarc report [--dry-run] [--output DIR]`, also run by
 * the master every dmarc_report_interval: the records smtpd sent since the
 * last run become one aggregate report per policy domain (RFC 7489 7.2),
 * mailed through the queue to each rua mailto: address that accepts it
 * (external destinations must publish the 7.1 authorisation record). The
 * mails pass through SPOOL/dmarc/outbox (dmarc_outbox.h), so an interrupted
 * run neither loses nor repeats a report. */
#include "mailctl/commands.h"
#include "mailctl/dmarc_files.h"
#include "mailctl/dmarc_outbox.h"
#include "mailctl/dmarc_report.h"
#include "mailctl/runstate.h"
#include "common/dns.h"
#include "common/instance.h"
#include "common/log.h"
#include "common/queue_proto.h"
#include "common/queue_submit.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define USAGE "dmarc report [--dry-run] [--output DIR]"
#define MAX_RUA 2	/* RFC 7489 6.2: a receiver may limit the URIs it sends to */
#define EX_TEMPFAIL 75	/* sysexits: try again later */

struct run {
	const struct instance *in;
	const struct dmarc_run_opts *o;
	char *from;
	uint64_t now;
	bool tempfail;		/* a report mail is still waiting in the outbox */
	bool outbox_failed;	/* a mail could not be written: keep the records */
	struct outbox ob;
};

static void say(const struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const struct run *r, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (r->o->to_log)
		log_info("dmarc report: %s", buf);
	else
		printf("%s\n", buf);
}

/* RFC 7489 7.1: may reports for policy_domain go to an address at
 * rua_domain? Yes within one organisational domain; otherwise only if
 * POLICY._report._dmarc.RUADOMAIN has a "v=DMARC1" TXT record. why gets the
 * reason for a no; returns 1 yes, 0 no, -1 temporary DNS failure. */
static int destination_ok(const char *policy_domain, const char *rua_domain, char *why, size_t len)
{
	char a[256], b[256];
	dmarc_org_domain(policy_domain, a, sizeof a);
	dmarc_org_domain(rua_domain, b, sizeof b);
	if (!strcasecmp(a, b))
		return 1;
	char *name = xasprintf("%s._report._dmarc.%s", policy_domain, rua_domain);
	char **txt;
	size_t n;
	enum dns_status st = dns_txt(name, &txt, &n);
	int ok = 0;
	for (size_t i = 0; st == DNS_OK && i < n && !ok; i++)
		ok = !strncasecmp(txt[i], "v=DMARC1", 8) &&
		     (txt[i][8] == '\0' || txt[i][8] == ';' || txt[i][8] == ' ');
	if (st == DNS_OK)
		dns_txt_free(txt, n);
	if (st == DNS_TEMPFAIL)
		ok = -1;
	if (ok != 1)
		snprintf(why, len, "%s: %s", name, st == DNS_TEMPFAIL ? "temporary DNS failure"
			 : "no v=DMARC1 TXT record authorising it (RFC 7489 7.1)");
	free(name);
	return ok;
}

/* Queue one report mail the way `mailctl sendmail` does; a queue_status.
 * (outbox_send_fn) */
static uint32_t submit(void *arg, const char *sender, const char *addr, const char *domain,
		       const char *mail)
{
	struct run *r = arg;
	char err[512];
	uint32_t st = outbox_queue_mail(r->in, "dmarc report", sender, addr, mail, err, sizeof err);
	if (st != QS_OK)
		log_err("dmarc report: to %s: %s", addr, err);
	say(r, "rua domain=%s to=%s status=%s", domain, addr,
	    st == QS_OK ? "sent" : st == QS_REJECT ? "refused" : "deferred");
	return st;
}

/* One rua URI of a report: check, build the mail, queue it. */
static void send_one(struct run *r, const struct dmarc_report *rep, const char *uri,
		     const char *id, const char *fname, const unsigned char *gz, size_t gzlen)
{
	char addr[256], why[600];
	uint64_t limit;
	if (!dmarc_rua_parse(uri, addr, sizeof addr, &limit)) {
		say(r, "rua domain=%s uri=%s status=skipped reason=\"not a mailto: address we send to\"",
		    rep->domain, uri);
		return;
	}
	int ok = destination_ok(rep->domain, strrchr(addr, '@') + 1, why, sizeof why);
	if (ok != 1) {
		say(r, "rua domain=%s to=%s status=%s reason=\"%s\"", rep->domain, addr,
		    ok < 0 ? "deferred" : "refused", why);
		return;
	}
	struct dmarc_mail dm = { .from = r->from, .to = addr, .domain = rep->domain,
				 .submitter = r->in->hostname, .report_id = id, .filename = fname,
				 .gz = gz, .gzlen = gzlen, .date = (time_t)r->now };
	char *mail = dmarc_report_mail(&dm);
	if (limit && strlen(mail) > limit) {
		say(r, "rua domain=%s to=%s status=refused reason=\"report of %zu bytes over the "
		    "!%llu limit\"", rep->domain, addr, strlen(mail), (unsigned long long)limit);
	} else if (r->o->dry_run) {
		say(r, "rua domain=%s to=%s status=dry-run", rep->domain, addr);
	} else if (!r->outbox_failed && outbox_add(&r->ob, r->from, addr, rep->domain, mail) < 0) {
		cmd_error("dmarc report: cannot write the outbox: %s", strerror(errno));
		r->outbox_failed = true;
	}
	free(mail);
}

static void keep_file(const struct run *r, const char *name, const unsigned char *gz, size_t len)
{
	char *path = xasprintf("%s/%s", r->o->output, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || write_all(fd, gz, len) < 0 || fsync(fd) < 0)
		cmd_error("dmarc report: cannot write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(path);
}

static void one_report(struct run *r, const struct dmarc_report *rep)
{
	uint64_t rnd = 0;
	if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
		rnd = now_ms() ^ (uint64_t)getpid();
	char unique[24];
	snprintf(unique, sizeof unique, "%016llx", (unsigned long long)rnd);
	char *id = xasprintf("%s.%llu@%s", unique, (unsigned long long)r->now, r->in->hostname);
	struct dmarc_meta meta = { r->in->hostname, r->from, id, rep->begin, r->now };
	size_t len, gzlen;
	unsigned char *gz;
	char *xml = dmarc_report_xml(rep, &meta, &len);
	char *fname = dmarc_report_filename(r->in->hostname, rep->domain, rep->begin, r->now, unique);
	if (dmarc_gzip(xml, len, &gz, &gzlen) < 0)
		fatal("dmarc report: gzip failed");
	say(r, "report domain=%s id=%s messages=%llu rows=%zu file=%s", rep->domain, id,
	    (unsigned long long)rep->messages, rep->nrows, fname);
	if (r->o->output)
		keep_file(r, fname, gz, gzlen);
	char *list = xstrdup(rep->latest.rua), *save = NULL;
	int n = 0;
	for (char *u = strtok_r(list, ",", &save); u; u = strtok_r(NULL, ",", &save)) {
		u = str_trim(u);
		if (!*u)
			continue;
		if (n++ == MAX_RUA) {
			say(r, "rua domain=%s uri=%s status=skipped reason=\"more than %d rua URIs\"",
			    rep->domain, u, MAX_RUA);
			continue;
		}
		send_one(r, rep, u, id, fname, gz, gzlen);
	}
	if (!n)
		say(r, "rua domain=%s status=none reason=\"the record has no rua\"", rep->domain);
	free(list);
	free(gz);
	free(fname);
	free(xml);
	free(id);
}

/* Read the record files into a; returns how many files there were. */
static size_t collect(struct run *r, const char *dir, struct dmarc_agg *a, char ***files)
{
	uint64_t good = 0, bad = 0;
	size_t n = dmarc_files_list(dir, r->o->dry_run, files);
	for (size_t i = 0; i < n; i++)
		if (dmarc_files_read((*files)[i], a, &good, &bad) < 0)
			cmd_error("dmarc report: cannot read %s: %s", (*files)[i], strerror(errno));
	if (bad)
		log_warn("dmarc report: %llu malformed record line(s) skipped", (unsigned long long)bad);
	if (a->dropped)
		log_warn("dmarc report: over %d rows; %llu record(s) not reported", DMARC_AGG_MAX_ROWS,
			 (unsigned long long)a->dropped);
	if (!good)
		say(r, "no records");
	return n;
}

/* Aggregate the records and make the reports; outside a dry run their mails
 * go to the outbox, committed together with the removal of the records. */
static int make_reports(struct run *r, const char *dir)
{
	struct dmarc_agg a;
	char **files = NULL;
	int rc = 0;
	if (!r->o->dry_run && outbox_begin(&r->ob, dir) < 0)
		return cmd_error("dmarc report: cannot make an outbox in %s: %s", dir, strerror(errno));
	dmarc_agg_init(&a);
	size_t n = collect(r, dir, &a, &files);
	for (size_t i = 0; i < a.nreps; i++)
		one_report(r, &a.reps[i]);
	if (r->o->dry_run) {
		/* nothing to commit */
	} else if (r->outbox_failed) {
		outbox_abort(&r->ob);	/* the records stay for the next run */
		rc = EX_TEMPFAIL;
	} else if (outbox_commit(&r->ob, files, n) < 0) {
		rc = cmd_error("dmarc report: cannot commit the outbox: %s", strerror(errno));
	}
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	free(files);
	dmarc_agg_free(&a);
	return rc;
}

int dmarc_report_run(const struct instance *in, const struct dmarc_run_opts *o)
{
	const char *from = cfg_str(&in->conf, "dmarc_report_from");
	struct run r = { .in = in, .o = o, .now = (uint64_t)time(NULL),
			 .from = *from ? xstrdup(from) : xasprintf("noreply-dmarc@%s", in->hostname) };
	char *dir = xasprintf("%s/%s", in->spool_dir, DMARC_LOG_DIR);
	int rc = 0, lock = -1;
	bool nothing = access(dir, F_OK) < 0 && errno == ENOENT;	/* queued never ran */
	if (dns_init(cfg_str(&in->conf, "dns_server"), 5) < 0)
		rc = cmd_error("dmarc report: bad dns_server in tern.conf");
	else if (dmarc_init(NULL) < 0)
		log_warn("dmarc report: cannot read %s; organisational domains are guessed",
			 DMARC_PSL_PATH);
	if (!rc && nothing)
		say(&r, "no records");
	if (!rc && !nothing && (lock = dmarc_files_lock(dir)) < 0)
		rc = cmd_error("dmarc report: %s", errno == EWOULDBLOCK ? "another report run is in progress"
			       : strerror(errno));
	/* What an earlier run left: committed mails first, so reports go out in order. */
	if (!rc && !nothing && !o->dry_run)
		r.tempfail = !outbox_flush(dir, submit, &r);
	if (!rc && !nothing && !o->dry_run && dmarc_files_rotate(dir) < 0)
		rc = cmd_error("dmarc report: cannot rotate %s/%s: %s", dir, DMARC_LOG_NAME,
			       strerror(errno));
	if (!rc && !nothing)
		rc = make_reports(&r, dir);
	if (!rc && !nothing && !o->dry_run && !r.tempfail)
		r.tempfail = !outbox_flush(dir, submit, &r);
	if (!rc && r.tempfail)
		rc = EX_TEMPFAIL;	/* the mails wait in the outbox for the next run */
	if (lock >= 0)
		close(lock);
	free(dir);
	free(r.from);
	return rc;
}

int cmd_dmarc(const char *dir, int argc, char **argv)
{
	if (cmd_wants_help(argc, argv, USAGE))
		return 0;
	struct dmarc_run_opts o = { 0 };
	if (argc < 2 || strcmp(argv[1], "report"))
		return cmd_error("usage: mailctl %s", USAGE), 2;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--dry-run"))
			o.dry_run = true;
		else if (!strcmp(argv[i], "--output") && i + 1 < argc)
			o.output = argv[++i];
		else if (!strcmp(argv[i], "--log"))
			o.to_log = true;	/* the master's scheduled run */
		else
			return cmd_error("usage: mailctl %s", USAGE), 2;
	}
	if (o.to_log) {
		/* stderr is the master's log file when it has one, else syslog */
		log_init("dmarc-report", getenv("TERN_LOG_FD") ? "stderr" : "syslog");
	}
	if (o.output && access(o.output, W_OK) < 0)
		return cmd_error("dmarc report: cannot write to %s: %s", o.output, strerror(errno));
	struct instance in;
	struct cfg_errors errs = { 0 };
	int rc;
	if (instance_load(&in, instance_default_dir(dir), &errs) < 0) {
		for (int i = 0; i < errs.count; i++)
			cmd_error("%s", errs.msg[i]);
		rc = 1;
	} else {
		rc = dmarc_report_run(&in, &o);
	}
	instance_free(&in);
	return rc;
}
