/* cmd_tlsrpt.c — `mailctl tlsrpt report [--dry-run] [--output DIR]`, also run
 * by the master every tlsrpt_report_interval: the outbound TLS outcomes the
 * remote agent recorded since the last run become one report per policy
 * domain (RFC 8460), mailed through the queue to each mailto: rua of the
 * domain's _smtp._tls TXT record and posted to each https: one
 * (report_post.h). Domains without such a record get none.
 * The run itself (lock, outbox, rotation) is report_run.h's, shared with the
 * DMARC reports. */
#include "mailctl/commands.h"
#include "mailctl/dmarc_report.h"
#include "mailctl/report_post.h"
#include "mailctl/report_run.h"
#include "mailctl/tlsrpt_report.h"
#include "common/dns.h"
#include "common/instance.h"
#include "common/log.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_RUA 2	/* URIs used per report */
#define TLSRPT_MEDIA_TYPE "application/tlsrpt+gzip"	/* RFC 8460 3, 6.4 */

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

/* What every rua of one report shares. */
struct one {
	const struct tlsrpt_domain *d;
	const char *id, *fname;
	const unsigned char *gz;
	size_t gzlen;
};

static void send_one(struct report_run *r, const char *uri, void *arg)
{
	const struct one *o = arg;
	const char *domain = o->d->domain;
	char addr[256];
	uint64_t limit;
	if (!strncasecmp(uri, "https:", 6)) {
		report_post_add(r, domain, uri, TLSRPT_MEDIA_TYPE, o->gz, o->gzlen);
		return;
	}
	if (!dmarc_rua_parse(uri, addr, sizeof addr, &limit)) {
		report_say(r, "rua domain=%s uri=%s status=skipped reason=\"only mailto: and https: "
			   "are sent to\"", domain, uri);
		return;
	}
	char hdrs[700];
	snprintf(hdrs, sizeof hdrs, "TLS-Report-Domain: %s\r\nTLS-Report-Submitter: %s\r\n",
		 domain, r->in->hostname);
	struct dmarc_mail m = { .from = r->from, .to = addr, .domain = domain,
				.submitter = r->in->hostname, .report_id = o->id,
				.filename = o->fname, .gz = o->gz, .gzlen = o->gzlen,
				.date = (time_t)r->now, .report_type = "tlsrpt",
				.media_type = TLSRPT_MEDIA_TYPE, .extra_headers = hdrs,
				.what = "a TLS report (RFC 8460)" };
	char *mail = dmarc_report_mail(&m);
	report_queue(r, domain, addr, mail, 0);	/* RFC 8460 has no size limit */
	free(mail);
}

static void one_report(struct report_run *r, const struct tlsrpt_domain *d)
{
	char rua[1024];
	int have = lookup_rua(d->domain, rua, sizeof rua);
	if (have <= 0) {
		report_say(r, "report domain=%s status=%s", d->domain, have < 0
			   ? "deferred reason=\"temporary DNS failure looking up _smtp._tls\""
			   : "none reason=\"no v=TLSRPTv1 record\"");
		if (have < 0)
			r->outbox_failed = true;	/* keep the records for the next run */
		return;
	}
	char unique[24];
	char *id = report_new_id(r, unique);
	struct tlsrpt_meta meta = { r->in->hostname, r->from, id, d->begin, r->now };
	size_t len;
	struct one o = { .d = d, .id = id };
	char *json = tlsrpt_report_json(d, &meta, &len);
	char *fname = tlsrpt_report_filename(r->in->hostname, d->domain, d->begin, r->now, unique);
	unsigned char *gz;
	if (dmarc_gzip(json, len, &gz, &o.gzlen) < 0)
		fatal("tlsrpt report: gzip failed");
	o.fname = fname;
	o.gz = gz;
	report_say(r, "report domain=%s id=%s policies=%zu file=%s", d->domain, id, d->npolicies,
		   fname);
	report_keep(r, fname, gz, o.gzlen);
	report_each_rua(r, d->domain, rua, MAX_RUA, send_one, &o);
	free(gz);
	free(fname);
	free(json);
	free(id);
}

static void reports(struct report_run *r, void *arg)
{
	struct tlsrpt_agg *a = arg;
	if (a->dropped)
		log_warn("tlsrpt report: %llu record(s) over the run's bounds not detailed",
			 (unsigned long long)a->dropped);
	for (size_t i = 0; i < a->ndoms; i++)
		one_report(r, &a->doms[i]);
}

static void *agg_new(void)
{
	struct tlsrpt_agg *a = xmalloc(sizeof *a);
	tlsrpt_agg_init(a);
	return a;
}

static bool add_line(const char *line, void *agg)
{
	struct tlsrpt_record rec;
	if (!tlsrpt_record_parse(line, &rec))
		return false;
	tlsrpt_agg_add(agg, &rec);
	return true;
}

static void agg_free(void *agg)
{
	tlsrpt_agg_free(agg);
	free(agg);
}

static const struct report_kind tlsrpt_kind = {
	.cmd = "tlsrpt", .name = "tlsrpt report", .log_ident = "tlsrpt-report",
	.dir = TLSRPT_LOG_DIR, .from_key = "tlsrpt_report_from", .from_local = "noreply-tlsrpt",
	.line_max = TLSRPT_REC_LINE_MAX, .agg_new = agg_new, .add_line = add_line,
	.agg_free = agg_free, .reports = reports,
};

int cmd_tlsrpt(const char *dir, int argc, char **argv)
{
	return report_cmd(&tlsrpt_kind, dir, argc, argv);
}
