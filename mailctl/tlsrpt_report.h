/* tlsrpt_report.h — TLS reports (RFC 8460) from the records the remote agent
 * left (common/tlsrpt_record.h): aggregation per policy domain, then per
 * policy (type, policy string, mx patterns) with session counts and failure
 * details, the section 4 JSON document, the 5.1 file name. Pure functions;
 * cmd_tlsrpt.c does the files, DNS and the queue. */
#ifndef TERN_MAILCTL_TLSRPT_REPORT_H
#define TERN_MAILCTL_TLSRPT_REPORT_H

#include "common/tlsrpt_record.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds for one run: further domains, policies or failure kinds are counted
 * as dropped (sessions stay counted in the summary where a policy exists). */
#define TLSRPT_MAX_DOMAINS 100000
#define TLSRPT_MAX_POLICIES 16		/* per domain */
#define TLSRPT_MAX_DETAILS 100		/* per policy */

struct tlsrpt_detail {
	char result[40], sending_ip[64], receiving_mx[256], receiving_ip[64], info[256];
	uint64_t count;
};

struct tlsrpt_policy_sum {
	enum tlsrpt_policy type;
	char policy_string[TLSRPT_POLICY_MAX];
	char mx_host[512];
	uint64_t ok, failed;
	struct tlsrpt_detail *details;
	size_t ndetails;
};

struct tlsrpt_domain {
	char domain[256];
	uint64_t begin, end;	/* times of the first and last record */
	struct tlsrpt_policy_sum *policies;
	size_t npolicies;
};

struct tlsrpt_agg {
	struct tlsrpt_domain *doms;
	size_t ndoms, cap;
	void *index;		/* domain -> position (a jansson object) */
	uint64_t dropped;
};

void tlsrpt_agg_init(struct tlsrpt_agg *a);
/* Count one (valid) record. */
void tlsrpt_agg_add(struct tlsrpt_agg *a, const struct tlsrpt_record *r);
void tlsrpt_agg_free(struct tlsrpt_agg *a);

struct tlsrpt_meta {
	const char *org_name;	/* our host name */
	const char *contact;	/* the report sender */
	const char *report_id;
	uint64_t begin, end;
};
/* The RFC 8460 section 4 JSON document; malloc'd, *len its size. */
char *tlsrpt_report_json(const struct tlsrpt_domain *d, const struct tlsrpt_meta *m, size_t *len);
/* submitter!policy-domain!begin!end!unique.json.gz (RFC 8460 5.1); malloc'd. */
char *tlsrpt_report_filename(const char *submitter, const char *domain, uint64_t begin,
			     uint64_t end, const char *unique);
/* The rua URIs of a "v=TLSRPTv1; rua=..." TXT record, comma-separated into
 * out; false if txt is not such a record. */
bool tlsrpt_txt_rua(const char *txt, char *out, size_t len);

#endif
