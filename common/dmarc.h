/* dmarc.h — DMARC (RFC 7489) evaluation with OpenDMARC: identifier alignment
 * (relaxed/strict) of the SPF and DKIM results with the RFC5322.From domain,
 * organisational domains from Debian's public suffix list, p=/sp=/pct=.
 * Policy records are fetched through common/dns (`dns_server`, chroot-safe). */
#ifndef TERN_DMARC_H
#define TERN_DMARC_H

#include "common/dkim.h"
#include "common/spf.h"

#include <stdbool.h>
#include <stddef.h>

#define DMARC_PSL_PATH "/usr/share/publicsuffix/public_suffix_list.dat"

enum dmarc_result { DMARC_RES_NONE, DMARC_RES_PASS, DMARC_RES_FAIL, DMARC_RES_TEMPERROR,
		    DMARC_RES_PERMERROR };
enum dmarc_policy { DMARC_P_NONE, DMARC_P_QUARANTINE, DMARC_P_REJECT };

struct dmarc_input {
	const char *client_ip;
	const char *from_domain;	/* RFC5322.From domain */
	const char *spf_domain;		/* MAIL FROM domain, or the HELO name for <> */
	bool spf_is_helo;
	enum spf_result spf;
	const struct dkim_verdict *dkim;
};

struct dmarc_verdict {
	enum dmarc_result result;
	enum dmarc_policy policy;	/* published policy that applies (p or sp) */
	enum dmarc_policy disposition;	/* what to do after pct sampling (fail only) */
	int pct;
	bool spf_aligned, dkim_aligned;
	char policy_domain[256];	/* where the record was found */
	/* The published record as the aggregate report states it (RFC 7489
	 * appendix C policy_published); sp is p when not given. */
	enum dmarc_policy p, sp;
	char adkim, aspf;		/* 'r' or 's' */
	char fo[16];			/* "0" unless given, e.g. "1:d" */
	char rua[512];			/* rua URIs, comma-separated, "" if none */
	char record[512];
};

/* Load the public suffix list once per process (before any chroot). 0 or -1. */
int dmarc_init(const char *psl_path);
/* Evaluate; never fails: problems become temperror/permerror results. */
void dmarc_evaluate(const struct dmarc_input *in, struct dmarc_verdict *out);

/* Organisational domain (RFC 7489 3.2) per the public suffix list (after
 * dmarc_init); a suffix the list does not know counts as one label. */
void dmarc_org_domain(const char *domain, char *out, size_t len);

const char *dmarc_result_str(enum dmarc_result r);
const char *dmarc_policy_str(enum dmarc_policy p);

#endif
