/* cmd_dns.c — `mailctl dns DOMAIN [--check]`: every DNS record a mail domain
 * served by this instance should publish (MX, SPF, DKIM per selector, DMARC,
 * MTA-STS, TLS-RPT, TLSA 3 1 1 for the current and a staged certificate,
 * client autoconfiguration), in zone-file syntax. With --check each record is
 * looked up (through dns_server when tern.conf sets it) and marked present,
 * different or missing; the exit status is 0 only when all are present.
 *
 * The records are built in dns_want.c; this file prints and checks them. */
#include "mailctl/commands.h"
#include "mailctl/dns_want.h"
#include "common/dns_text.h"
#include "common/instance.h"
#include "common/util.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DNS_USAGE "dns DOMAIN [--check]"

static const char *type_name(int type)
{
	switch (type) {
	case DNS_T_MX: return "MX";
	case DNS_T_TXT: return "TXT";
	case DNS_T_SRV: return "SRV";
	case DNS_T_CNAME: return "CNAME";
	case DNS_T_TLSA: return "TLSA";
	default: return "?";
	}
}

/* Zone-file form of rdata: TXT values quoted, in strings of at most 250. */
static void print_rdata(FILE *f, int type, const char *rdata)
{
	if (type != DNS_T_TXT) {
		fputs(rdata, f);
		return;
	}
	size_t n = strlen(rdata);
	if (n <= 250) {
		fprintf(f, "\"%s\"", rdata);
		return;
	}
	fputs("(", f);
	for (size_t off = 0; off < n; off += 250)
		fprintf(f, " \"%.250s\"", rdata + off);
	fputs(" )", f);
}

static void print_record(FILE *f, const struct dns_want *w)
{
	fprintf(f, "%s IN %s ", w->owner, type_name(w->type));
	print_rdata(f, w->type, w->rdata);
	fputc('\n', f);
}

/* Compare ignoring case and white space: DNS names are case-blind and a TXT
 * value's spacing ("v=DKIM1; k=rsa" vs "v=DKIM1;k=rsa") is not a difference. */
static char *normalise(const char *s)
{
	char *o = xmalloc(strlen(s) + 1), *p = o;
	for (; *s; s++)
		if (!isspace((unsigned char)*s))
			*p++ = (char)tolower((unsigned char)*s);
	*p = 0;
	return o;
}

static bool same(const char *a, const char *b)
{
	char *x = normalise(a), *y = normalise(b);
	bool r = !strcmp(x, y);
	free(x);
	free(y);
	return r;
}

/* Is a served record of the same kind as the wanted one (a TXT record with
 * another purpose at the same name is not a "different" SPF record)? */
static bool same_kind(const struct dns_want *w, const char *served)
{
	return !w->prefix || !strncasecmp(served, w->prefix, strlen(w->prefix));
}

enum verdict { V_PRESENT, V_DIFFERENT, V_MISSING, V_UNKNOWN };

static enum verdict check_one(const struct dns_want *w, char **seen, size_t nseen,
			      enum dns_status st)
{
	if (st == DNS_NXDOMAIN || st == DNS_NODATA)
		return V_MISSING;
	if (st != DNS_OK)
		return V_UNKNOWN;
	bool kind = false;
	for (size_t i = 0; i < nseen; i++) {
		if (same(w->rdata, seen[i]))
			return V_PRESENT;
		kind |= same_kind(w, seen[i]);
	}
	return kind ? V_DIFFERENT : V_MISSING;
}

static int check_records(const struct dns_wants *ws)
{
	static const char *label[] = { "present  ", "different", "missing  ", "unknown  " };
	int bad = 0;
	for (size_t i = 0; i < ws->n; i++) {
		const struct dns_want *w = &ws->w[i];
		char **seen;
		size_t nseen;
		enum dns_status st = dns_records_text(w->owner, w->type, &seen, &nseen);
		enum verdict v = check_one(w, seen, nseen, st);
		printf("%s ", label[v]);
		print_record(stdout, w);
		if (v == V_DIFFERENT)
			for (size_t k = 0; k < nseen; k++)
				if (same_kind(w, seen[k])) {
					printf("          ; DNS has: ");
					print_rdata(stdout, w->type, seen[k]);
					putchar('\n');
				}
		if (v == V_UNKNOWN)
			printf("          ; lookup failed: %s\n", dns_status_str(st));
		bad += v != V_PRESENT;
		dns_txt_free(seen, nseen);
	}
	printf("; %zu records: %zu present, %d not\n", ws->n, ws->n - (size_t)bad, bad);
	return bad ? 1 : 0;
}

static void print_records(const struct dns_wants *ws)
{
	for (size_t i = 0; i < ws->n; i++) {
		if (ws->w[i].comment)
			printf("; %s\n", ws->w[i].comment);
		print_record(stdout, &ws->w[i]);
	}
}

static int run(const char *dir, const char *domain, bool check)
{
	struct instance in;
	struct cfg_errors errs = { 0 };
	if (instance_load(&in, instance_default_dir(dir), &errs) < 0) {
		int rc = cmd_error("%s", errs.count ? errs.msg[0] : "cannot load tern.conf");
		instance_free(&in);
		return rc;
	}
	struct dns_wants ws = { 0 };
	char why[512];
	int rc = 0;
	if (dns_wants_build(&in, domain, &ws, why, sizeof why) < 0) {
		rc = cmd_error("%s", why);
	} else {
		printf("; DNS records for %s, served by %s (instance %s)\n", domain, in.hostname,
		       in.dir);
		for (size_t i = 0; i < ws.nnotes; i++)
			printf("; %s\n", ws.notes[i]);
		if (!check)
			print_records(&ws);
		else if (dns_init(cfg_str(&in.conf, "dns_server"), 5) < 0)
			rc = cmd_error("bad dns_server in %s/tern.conf", in.dir);
		else
			rc = check_records(&ws);
	}
	dns_wants_free(&ws);
	instance_free(&in);
	return rc;
}

int cmd_dns(const char *dir, int argc, char **argv)
{
	const char *domain = NULL;
	bool check = false;
	if (cmd_wants_help(argc, argv, DNS_USAGE))
		return 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--check"))
			check = true;
		else if (argv[i][0] != '-' && !domain)
			domain = argv[i];
		else
			return cmd_error("unexpected argument %s; usage: mailctl %s", argv[i], DNS_USAGE);
	}
	if (!domain || !dns_want_valid_domain(domain))
		return cmd_error("need a domain name; usage: mailctl %s", DNS_USAGE);
	char *d = xstrdup(domain);
	str_lower(d);
	size_t n = strlen(d);
	if (n && d[n - 1] == '.')
		d[n - 1] = 0;
	int rc = run(dir, d, check);
	free(d);
	return rc;
}
