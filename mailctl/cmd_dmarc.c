/* cmd_dmarc.c — `mailctl dmarc report [--dry-run] [--output DIR]`, also run by
 * the master every dmarc_report_interval: the records smtpd sent since the
 * last run become one aggregate report per policy domain (RFC 7489 7.2),
 * mailed through the queue to each rua mailto: address that accepts it
 * (external destinations must publish the 7.1 authorisation record). The run
 * itself (lock, outbox, rotation) is report_run.h's. */
#include "mailctl/commands.h"
#include "mailctl/dmarc_files.h"
#include "mailctl/dmarc_report.h"
#include "mailctl/report_run.h"
#include "common/dns.h"
#include "common/instance.h"
#include "common/log.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_RUA 2	/* RFC 7489 6.2: a receiver may limit the URIs it sends to */

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

/* What every rua of one report shares. */
struct one {
	const struct dmarc_report *rep;
	const char *id, *fname;
	const unsigned char *gz;
	size_t gzlen;
};

/* One rua URI of a report: check, build the mail, queue it. */
static void send_one(struct report_run *r, const char *uri, void *arg)
{
	const struct one *o = arg;
	const char *domain = o->rep->domain;
	char addr[256], why[600];
	uint64_t limit;
	if (!dmarc_rua_parse(uri, addr, sizeof addr, &limit)) {
		report_say(r, "rua domain=%s uri=%s status=skipped reason=\"not a mailto: address we "
			   "send to\"", domain, uri);
		return;
	}
	int ok = destination_ok(domain, strrchr(addr, '@') + 1, why, sizeof why);
	if (ok != 1) {
		report_say(r, "rua domain=%s to=%s status=%s reason=\"%s\"", domain, addr,
			   ok < 0 ? "deferred" : "refused", why);
		return;
	}
	struct dmarc_mail dm = { .from = r->from, .to = addr, .domain = domain,
				 .submitter = r->in->hostname, .report_id = o->id,
				 .filename = o->fname, .gz = o->gz, .gzlen = o->gzlen,
				 .date = (time_t)r->now };
	char *mail = dmarc_report_mail(&dm);
	report_queue(r, domain, addr, mail, limit);
	free(mail);
}

static void one_report(struct report_run *r, const struct dmarc_report *rep)
{
	char unique[24];
	char *id = report_new_id(r, unique);
	struct dmarc_meta meta = { r->in->hostname, r->from, id, rep->begin, r->now };
	size_t len;
	struct one o = { .rep = rep, .id = id };
	char *xml = dmarc_report_xml(rep, &meta, &len);
	char *fname = dmarc_report_filename(r->in->hostname, rep->domain, rep->begin, r->now, unique);
	unsigned char *gz;
	if (dmarc_gzip(xml, len, &gz, &o.gzlen) < 0)
		fatal("dmarc report: gzip failed");
	o.fname = fname;
	o.gz = gz;
	report_say(r, "report domain=%s id=%s messages=%llu rows=%zu file=%s", rep->domain, id,
		   (unsigned long long)rep->messages, rep->nrows, fname);
	report_keep(r, fname, gz, o.gzlen);
	if (!report_each_rua(r, rep->domain, rep->latest.rua, MAX_RUA, send_one, &o))
		report_say(r, "rua domain=%s status=none reason=\"the record has no rua\"", rep->domain);
	free(gz);
	free(fname);
	free(xml);
	free(id);
}

static void reports(struct report_run *r, void *arg)
{
	struct dmarc_agg *a = arg;
	if (a->dropped)
		log_warn("dmarc report: over %d rows; %llu record(s) not reported", DMARC_AGG_MAX_ROWS,
			 (unsigned long long)a->dropped);
	if (a->nreps && dmarc_init(NULL) < 0)
		log_warn("dmarc report: cannot read %s; organisational domains are guessed",
			 DMARC_PSL_PATH);
	for (size_t i = 0; i < a->nreps; i++)
		one_report(r, &a->reps[i]);
}

static void *agg_new(void)
{
	struct dmarc_agg *a = xmalloc(sizeof *a);
	dmarc_agg_init(a);
	return a;
}

static bool add_line(const char *line, void *agg)
{
	struct dmarc_record rec;
	if (!dmarc_record_parse(line, &rec))
		return false;
	dmarc_agg_add(agg, &rec);
	return true;
}

static void agg_free(void *agg)
{
	dmarc_agg_free(agg);
	free(agg);
}

static const struct report_kind dmarc_kind = {
	.cmd = "dmarc", .name = "dmarc report", .log_ident = "dmarc-report",
	.dir = DMARC_LOG_DIR, .from_key = "dmarc_report_from", .from_local = "noreply-dmarc",
	.line_max = DMARC_REC_LINE_MAX, .agg_new = agg_new, .add_line = add_line,
	.agg_free = agg_free, .reports = reports,
};

int cmd_dmarc(const char *dir, int argc, char **argv)
{
	return report_cmd(&dmarc_kind, dir, argc, argv);
}
