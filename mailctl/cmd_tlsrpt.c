/* cmd_tlsrpt.c — `mailctl tlsrpt report [--dry-run] [--output DIR]`, also run
 * by the master every tlsrpt_report_interval: the outbound TLS outcomes the
 * remote agent recorded since the last run become one report per policy
 * domain (RFC 8460), mailed through the queue to each mailto: rua of the
 * domain's _smtp._tls TXT record. Domains without such a record get none.
 * The run is the DMARC report run's (dmarc_files.h, dmarc_outbox.h: rotation
 * under a lock, an outbox committed with the removal of the records), so an
 * interrupted run neither loses nor repeats a report. */
#include "mailctl/commands.h"
#include "mailctl/dmarc_files.h"
#include "mailctl/dmarc_outbox.h"
#include "mailctl/dmarc_report.h"
#include "mailctl/tlsrpt_report.h"
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

#define USAGE "tlsrpt report [--dry-run] [--output DIR]"
#define MAX_RUA 2	/* URIs used per report */
#define EX_TEMPFAIL 75

struct run {
	const struct instance *in;
	const struct tlsrpt_run_opts *o;
	char *from;
	uint64_t now;
	bool tempfail, outbox_failed;
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
		log_info("tlsrpt report: %s", buf);
	else
		printf("%s\n", buf);
}

/* outbox_send_fn */
static uint32_t submit(void *arg, const char *sender, const char *addr, const char *domain,
		       const char *mail)
{
	struct run *r = arg;
	char err[512];
	uint32_t st = outbox_queue_mail(r->in, "tlsrpt report", sender, addr, mail, err, sizeof err);
	if (st != QS_OK)
		log_err("tlsrpt report: to %s: %s", addr, err);
	say(r, "rua domain=%s to=%s status=%s", domain, addr,
	    st == QS_OK ? "sent" : st == QS_REJECT ? "refused" : "deferred");
	return st;
}

/* The rua URIs the domain publishes: 1 (into rua), 0 none, -1 DNS trouble. */
static int lookup_rua(const char *domain, char *rua, size_t len)
{
	char *name = xasprintf("_smtp._tls.%s", domain);
	char **txt;
	size_t n;
	enum dns_status st = dns_txt(name, &txt, &n);
	free(name);
	if (st == DNS_TEMPFAIL)
		return -1;
	if (st != DNS_OK)
		return 0;
	int found = 0;
	for (size_t i = 0; i < n; i++)
		if (tlsrpt_txt_rua(txt[i], rua, len))
			found++;
	dns_txt_free(txt, n);
	return found == 1;	/* several records: none applies (as for MTA-STS) */
}

static void send_one(struct run *r, const struct tlsrpt_domain *d, const char *uri,
		     const char *id, const char *fname, const unsigned char *gz, size_t gzlen)
{
	char addr[256];
	uint64_t limit;
	if (!dmarc_rua_parse(uri, addr, sizeof addr, &limit)) {
		say(r, "rua domain=%s uri=%s status=skipped reason=\"only mailto: is sent to\"",
		    d->domain, uri);
		return;
	}
	char hdrs[700];
	snprintf(hdrs, sizeof hdrs, "TLS-Report-Domain: %s\r\nTLS-Report-Submitter: %s\r\n",
		 d->domain, r->in->hostname);
	struct dmarc_mail m = { .from = r->from, .to = addr, .domain = d->domain,
				.submitter = r->in->hostname, .report_id = id, .filename = fname,
				.gz = gz, .gzlen = gzlen, .date = (time_t)r->now,
				.report_type = "tlsrpt", .media_type = "application/tlsrpt+gzip",
				.extra_headers = hdrs, .what = "a TLS report (RFC 8460)" };
	char *mail = dmarc_report_mail(&m);
	if (r->o->dry_run)
		say(r, "rua domain=%s to=%s status=dry-run", d->domain, addr);
	else if (!r->outbox_failed && outbox_add(&r->ob, r->from, addr, d->domain, mail) < 0) {
		cmd_error("tlsrpt report: cannot write the outbox: %s", strerror(errno));
		r->outbox_failed = true;
	}
	free(mail);
}

static void keep_file(const struct run *r, const char *name, const unsigned char *gz, size_t len)
{
	char *path = xasprintf("%s/%s", r->o->output, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0 || write_all(fd, gz, len) < 0 || fsync(fd) < 0)
		cmd_error("tlsrpt report: cannot write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(path);
}

static void one_report(struct run *r, const struct tlsrpt_domain *d)
{
	char rua[1024];
	int have = lookup_rua(d->domain, rua, sizeof rua);
	if (have <= 0) {
		say(r, "report domain=%s status=%s", d->domain, have < 0
		    ? "deferred reason=\"temporary DNS failure looking up _smtp._tls\""
		    : "none reason=\"no v=TLSRPTv1 record\"");
		if (have < 0)
			r->outbox_failed = true;	/* keep the records for the next run */
		return;
	}
	uint64_t rnd = 0;
	if (getrandom(&rnd, sizeof rnd, 0) != sizeof rnd)
		rnd = now_ms() ^ (uint64_t)getpid();
	char unique[24];
	snprintf(unique, sizeof unique, "%016llx", (unsigned long long)rnd);
	char *id = xasprintf("%s.%llu@%s", unique, (unsigned long long)r->now, r->in->hostname);
	struct tlsrpt_meta meta = { r->in->hostname, r->from, id, d->begin, r->now };
	size_t len, gzlen;
	unsigned char *gz;
	char *json = tlsrpt_report_json(d, &meta, &len);
	char *fname = tlsrpt_report_filename(r->in->hostname, d->domain, d->begin, r->now, unique);
	if (dmarc_gzip(json, len, &gz, &gzlen) < 0)
		fatal("tlsrpt report: gzip failed");
	say(r, "report domain=%s id=%s policies=%zu file=%s", d->domain, id, d->npolicies, fname);
	if (r->o->output)
		keep_file(r, fname, gz, gzlen);
	char *save = NULL;
	int n = 0;
	for (char *u = strtok_r(rua, ",", &save); u; u = strtok_r(NULL, ",", &save)) {
		u = str_trim(u);
		if (*u && n++ < MAX_RUA)
			send_one(r, d, u, id, fname, gz, gzlen);
	}
	free(gz);
	free(fname);
	free(json);
	free(id);
}

static bool add_line(const char *line, void *arg)
{
	struct tlsrpt_record rec;
	if (!tlsrpt_record_parse(line, &rec))
		return false;
	tlsrpt_agg_add(arg, &rec);
	return true;
}

static int make_reports(struct run *r, const char *dir)
{
	struct tlsrpt_agg a;
	char **files = NULL;
	uint64_t good = 0, bad = 0;
	int rc = 0;
	if (!r->o->dry_run && outbox_begin(&r->ob, dir) < 0)
		return cmd_error("tlsrpt report: cannot make an outbox in %s: %s", dir, strerror(errno));
	tlsrpt_agg_init(&a);
	size_t n = dmarc_files_list(dir, r->o->dry_run, &files);
	for (size_t i = 0; i < n; i++)
		if (report_files_each(files[i], TLSRPT_REC_LINE_MAX, add_line, &a, &good, &bad) < 0)
			cmd_error("tlsrpt report: cannot read %s: %s", files[i], strerror(errno));
	if (bad)
		log_warn("tlsrpt report: %llu malformed record line(s) skipped", (unsigned long long)bad);
	if (a.dropped)
		log_warn("tlsrpt report: %llu record(s) over the run's bounds not detailed",
			 (unsigned long long)a.dropped);
	if (!good)
		say(r, "no records");
	for (size_t i = 0; i < a.ndoms; i++)
		one_report(r, &a.doms[i]);
	if (r->o->dry_run) {
		/* nothing to commit */
	} else if (r->outbox_failed) {
		outbox_abort(&r->ob);	/* the records stay for the next run */
		rc = EX_TEMPFAIL;
	} else if (outbox_commit(&r->ob, files, n) < 0) {
		rc = cmd_error("tlsrpt report: cannot commit the outbox: %s", strerror(errno));
	}
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	free(files);
	tlsrpt_agg_free(&a);
	return rc;
}

int tlsrpt_report_run(const struct instance *in, const struct tlsrpt_run_opts *o)
{
	const char *from = cfg_str(&in->conf, "tlsrpt_report_from");
	struct run r = { .in = in, .o = o, .now = (uint64_t)time(NULL),
			 .from = *from ? xstrdup(from) : xasprintf("noreply-tlsrpt@%s", in->hostname) };
	char *dir = xasprintf("%s/%s", in->spool_dir, TLSRPT_LOG_DIR);
	int rc = 0, lock = -1;
	bool nothing = access(dir, F_OK) < 0 && errno == ENOENT;	/* queued never ran */
	if (dns_init(cfg_str(&in->conf, "dns_server"), 5) < 0)
		rc = cmd_error("tlsrpt report: bad dns_server in tern.conf");
	if (!rc && nothing)
		say(&r, "no records");
	if (!rc && !nothing && (lock = dmarc_files_lock(dir)) < 0)
		rc = cmd_error("tlsrpt report: %s", errno == EWOULDBLOCK
			       ? "another report run is in progress" : strerror(errno));
	if (!rc && !nothing && !o->dry_run)
		r.tempfail = !outbox_flush(dir, submit, &r);
	if (!rc && !nothing && !o->dry_run && dmarc_files_rotate(dir) < 0)
		rc = cmd_error("tlsrpt report: cannot rotate %s/%s: %s", dir, TLSRPT_LOG_NAME,
			       strerror(errno));
	if (!rc && !nothing)
		rc = make_reports(&r, dir);
	if (!rc && !nothing && !o->dry_run && !r.tempfail)
		r.tempfail = !outbox_flush(dir, submit, &r);
	if (!rc && r.tempfail)
		rc = EX_TEMPFAIL;
	if (lock >= 0)
		close(lock);
	free(dir);
	free(r.from);
	return rc;
}

int cmd_tlsrpt(const char *dir, int argc, char **argv)
{
	if (cmd_wants_help(argc, argv, USAGE))
		return 0;
	struct tlsrpt_run_opts o = { 0 };
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
	if (o.to_log)
		log_init("tlsrpt-report", getenv("TERN_LOG_FD") ? "stderr" : "syslog");
	if (o.output && access(o.output, W_OK) < 0)
		return cmd_error("tlsrpt report: cannot write to %s: %s", o.output, strerror(errno));
	struct instance in;
	struct cfg_errors errs = { 0 };
	int rc;
	if (instance_load(&in, instance_default_dir(dir), &errs) < 0) {
		for (int i = 0; i < errs.count; i++)
			cmd_error("%s", errs.msg[i]);
		rc = 1;
	} else {
		rc = tlsrpt_report_run(&in, &o);
	}
	instance_free(&in);
	return rc;
}
