/* dmarc_record.c — DMARC report records: checks, IPC fields, log lines. */
#include "common/dmarc_record.h"
#include "common/ipc.h"
#include "common/recline.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NFIXED 20	/* fields before the DKIM triples (after "D1") */

static const char *const dkim_results[] = { "none", "pass", "fail", "policy", "neutral",
					    "temperror", "permerror", NULL };
static const char *const spf_results[] = { "none", "neutral", "pass", "fail", "softfail",
					   "temperror", "permerror", NULL };
static const char *const reasons[] = { "", "forwarded", "sampled_out", "trusted_forwarder",
				       "mailing_list", "local_policy", "other", NULL };

/* enum dmarc_policy order; kept here so the record code (and its fuzzer)
 * needs nothing of libopendmarc */
static const char *const policies[] = { "none", "quarantine", "reject" };

static const char *policy_str(enum dmarc_policy p)
{
	return (unsigned)p < ARRAY_LEN(policies) ? policies[p] : "none";
}

static bool one_of(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(s, *set))
			return true;
	return false;
}

/* A name as it may appear in a report: printable ASCII or UTF-8, no spaces. */
static bool name_ok(const char *s, size_t cap, bool may_be_empty)
{
	size_t n = strnlen(s, cap);
	if (n == cap || (!n && !may_be_empty))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return false;
	return true;
}

static bool ip_ok(const char *ip)
{
	unsigned char b[16];
	return inet_pton(AF_INET, ip, b) == 1 || inet_pton(AF_INET6, ip, b) == 1;
}

static bool policy_ok(enum dmarc_policy p)
{
	return p == DMARC_P_NONE || p == DMARC_P_QUARANTINE || p == DMARC_P_REJECT;
}

bool dmarc_record_valid(const struct dmarc_record *r)
{
	if (!ip_ok(r->ip) || !name_ok(r->header_from, sizeof r->header_from, false) ||
	    !name_ok(r->policy_domain, sizeof r->policy_domain, false) || !policy_ok(r->p) ||
	    !policy_ok(r->sp) || !policy_ok(r->disposition) || r->pct > 100 ||
	    (r->adkim != 'r' && r->adkim != 's') || (r->aspf != 'r' && r->aspf != 's') ||
	    !name_ok(r->fo, sizeof r->fo, false) || !one_of(r->reason, reasons) ||
	    !name_ok(r->env_from, sizeof r->env_from, true) ||
	    !name_ok(r->env_to, sizeof r->env_to, true) ||
	    !name_ok(r->spf_domain, sizeof r->spf_domain, true) ||
	    !one_of(r->spf_result, spf_results) || r->ndkim < 0 || r->ndkim > DMARC_REC_MAX_DKIM ||
	    !name_ok(r->rua, sizeof r->rua, true))
		return false;
	for (int i = 0; i < r->ndkim; i++)
		if (!name_ok(r->dkim[i].domain, sizeof r->dkim[i].domain, false) ||
		    !name_ok(r->dkim[i].selector, sizeof r->dkim[i].selector, true) ||
		    !one_of(r->dkim[i].result, dkim_results))
			return false;
	return true;
}

/* ---- IPC ---- */

void dmarc_record_put(struct ipc_msg *m, const struct dmarc_record *r)
{
	ipc_put_u64(m, r->time);
	ipc_put_str(m, r->ip);
	ipc_put_str(m, r->header_from);
	ipc_put_str(m, r->policy_domain);
	ipc_put_u32(m, r->p);
	ipc_put_u32(m, r->sp);
	ipc_put_u32(m, r->pct);
	ipc_put_u32(m, (unsigned char)r->adkim);
	ipc_put_u32(m, (unsigned char)r->aspf);
	ipc_put_str(m, r->fo);
	ipc_put_u32(m, r->disposition);
	ipc_put_u32(m, (r->dkim_aligned ? 1u : 0) | (r->spf_aligned ? 2u : 0) | (r->spf_helo ? 4u : 0));
	ipc_put_str(m, r->reason);
	ipc_put_str(m, r->env_from);
	ipc_put_str(m, r->env_to);
	ipc_put_str(m, r->spf_domain);
	ipc_put_str(m, r->spf_result);
	ipc_put_u32(m, (uint32_t)r->ndkim);
	for (int i = 0; i < r->ndkim; i++) {
		ipc_put_str(m, r->dkim[i].domain);
		ipc_put_str(m, r->dkim[i].selector);
		ipc_put_str(m, r->dkim[i].result);
	}
	ipc_put_str(m, r->rua);
}

bool dmarc_record_get(struct ipc_msg *m, struct dmarc_record *r)
{
	memset(r, 0, sizeof *r);
	r->time = ipc_get_u64(m);
	bool ok = ipc_get_strbuf(m, r->ip, sizeof r->ip) && ipc_get_strbuf(m, r->header_from, sizeof r->header_from) &&
		  ipc_get_strbuf(m, r->policy_domain, sizeof r->policy_domain);
	r->p = ipc_get_u32(m);
	r->sp = ipc_get_u32(m);
	r->pct = ipc_get_u32(m);
	r->adkim = (char)ipc_get_u32(m);
	r->aspf = (char)ipc_get_u32(m);
	ok = ok && ipc_get_strbuf(m, r->fo, sizeof r->fo);
	r->disposition = ipc_get_u32(m);
	uint32_t flags = ipc_get_u32(m);
	r->dkim_aligned = flags & 1;
	r->spf_aligned = flags & 2;
	r->spf_helo = flags & 4;
	ok = ok && ipc_get_strbuf(m, r->reason, sizeof r->reason) && ipc_get_strbuf(m, r->env_from, sizeof r->env_from) &&
	     ipc_get_strbuf(m, r->env_to, sizeof r->env_to) && ipc_get_strbuf(m, r->spf_domain, sizeof r->spf_domain) &&
	     ipc_get_strbuf(m, r->spf_result, sizeof r->spf_result);
	uint32_t n = ipc_get_u32(m);
	if (!ok || m->bad || n > DMARC_REC_MAX_DKIM)
		return false;
	r->ndkim = (int)n;
	for (int i = 0; i < r->ndkim && ok; i++)
		ok = ipc_get_strbuf(m, r->dkim[i].domain, sizeof r->dkim[i].domain) &&
		     ipc_get_strbuf(m, r->dkim[i].selector, sizeof r->dkim[i].selector) &&
		     ipc_get_strbuf(m, r->dkim[i].result, sizeof r->dkim[i].result);
	ok = ok && ipc_get_strbuf(m, r->rua, sizeof r->rua);
	return ok && ipc_end(m);
}

/* ---- log lines (common/recline.h) ---- */

char *dmarc_record_format(const struct dmarc_record *r)
{
	if (!dmarc_record_valid(r))
		return NULL;
	struct recline o;
	char a[2] = { r->adkim, 0 }, s[2] = { r->aspf, 0 };
	recline_begin(&o, "D1", DMARC_REC_LINE_MAX);
	recline_num(&o, r->time);
	recline_field(&o, r->ip);
	recline_field(&o, r->header_from);
	recline_field(&o, r->policy_domain);
	recline_field(&o, policy_str(r->p));
	recline_field(&o, policy_str(r->sp));
	recline_num(&o, r->pct);
	recline_field(&o, a);
	recline_field(&o, s);
	recline_field(&o, r->fo);
	recline_field(&o, policy_str(r->disposition));
	recline_num(&o, r->dkim_aligned);
	recline_num(&o, r->spf_aligned);
	recline_field(&o, r->reason);
	recline_field(&o, r->env_from);
	recline_field(&o, r->env_to);
	recline_field(&o, r->spf_domain);
	recline_field(&o, r->spf_helo ? "helo" : "mfrom");
	recline_field(&o, r->spf_result);
	recline_num(&o, (unsigned)r->ndkim);
	for (int i = 0; i < r->ndkim; i++) {
		recline_field(&o, r->dkim[i].domain);
		recline_field(&o, r->dkim[i].selector);
		recline_field(&o, r->dkim[i].result);
	}
	recline_field(&o, r->rua);
	return recline_end(&o);
}

static bool parse_u(const char *s, uint64_t max, uint64_t *v)
{
	return *s && parse_u64(s, max, v);
}

static bool parse_policy(const char *s, enum dmarc_policy *p)
{
	for (size_t i = 0; i < ARRAY_LEN(policies); i++)
		if (!strcmp(s, policies[i])) {
			*p = (enum dmarc_policy)i;
			return true;
		}
	return false;
}

#define MAX_FIELDS (NFIXED + 3 * DMARC_REC_MAX_DKIM + 1)

/* Split the line after "D1" into unescaped fields (each into its own buffer
 * of 512 bytes); returns the count or -1. */
static int split(const char *line, char (*f)[512])
{
	return recline_split(line, "D1", DMARC_REC_LINE_MAX, f[0], sizeof f[0], MAX_FIELDS);
}

static bool copy(char *dst, size_t cap, const char *src)
{
	return strlcpy_t(dst, src, cap) < cap;
}

bool dmarc_record_parse(const char *line, struct dmarc_record *r)
{
	char (*f)[512] = xmalloc(MAX_FIELDS * sizeof *f);
	uint64_t t, pct, da, sa, nd;
	memset(r, 0, sizeof *r);
	int n = split(line, f);
	bool ok = n >= NFIXED + 1 && parse_u(f[0], UINT64_MAX, &t) && copy(r->ip, sizeof r->ip, f[1]) &&
		  copy(r->header_from, sizeof r->header_from, f[2]) &&
		  copy(r->policy_domain, sizeof r->policy_domain, f[3]) && parse_policy(f[4], &r->p) &&
		  parse_policy(f[5], &r->sp) && parse_u(f[6], 100, &pct) && strlen(f[7]) == 1 &&
		  strlen(f[8]) == 1 && copy(r->fo, sizeof r->fo, f[9]) &&
		  parse_policy(f[10], &r->disposition) && parse_u(f[11], 1, &da) &&
		  parse_u(f[12], 1, &sa) && copy(r->reason, sizeof r->reason, f[13]) &&
		  copy(r->env_from, sizeof r->env_from, f[14]) && copy(r->env_to, sizeof r->env_to, f[15]) &&
		  copy(r->spf_domain, sizeof r->spf_domain, f[16]) &&
		  (!strcmp(f[17], "helo") || !strcmp(f[17], "mfrom")) &&
		  copy(r->spf_result, sizeof r->spf_result, f[18]) &&
		  parse_u(f[19], DMARC_REC_MAX_DKIM, &nd) && n == NFIXED + 3 * (int)nd + 1;
	if (ok) {
		r->time = t;
		r->pct = (unsigned)pct;
		r->adkim = f[7][0];
		r->aspf = f[8][0];
		r->dkim_aligned = da;
		r->spf_aligned = sa;
		r->spf_helo = !strcmp(f[17], "helo");
		r->ndkim = (int)nd;
		for (int i = 0; i < r->ndkim && ok; i++) {
			const char (*d)[512] = f + NFIXED + 3 * i;
			ok = copy(r->dkim[i].domain, sizeof r->dkim[i].domain, d[0]) &&
			     copy(r->dkim[i].selector, sizeof r->dkim[i].selector, d[1]) &&
			     copy(r->dkim[i].result, sizeof r->dkim[i].result, d[2]);
		}
		ok = ok && copy(r->rua, sizeof r->rua, f[n - 1]);
	}
	free(f);
	return ok && dmarc_record_valid(r);
}
