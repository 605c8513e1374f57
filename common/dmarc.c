/* dmarc.c — OpenDMARC policy evaluation over our own DNS lookups. */
#include "common/dmarc.h"
#include "common/dns.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <opendmarc/dmarc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Exported by libopendmarc 1.4 but missing from its header: the organisational
 * domain of `domain` per the loaded public suffix list; 0 on success. */
int opendmarc_get_tld(u_char *domain, u_char *tld, size_t tld_len);
/* Also exported but undeclared: the fo= bitmap (DMARC_RECORD_FO_*). */
OPENDMARC_STATUS_T opendmarc_policy_fetch_fo(DMARC_POLICY_T *pctx, int *fo);

static int lib_ready;

int dmarc_init(const char *psl_path)
{
	OPENDMARC_LIB_T lib;
	memset(&lib, 0, sizeof lib);
	lib.tld_type = OPENDMARC_TLD_TYPE_MOZILLA;
	snprintf((char *)lib.tld_source_file, sizeof lib.tld_source_file, "%s",
		 psl_path ? psl_path : DMARC_PSL_PATH);
	if (opendmarc_policy_library_init(&lib) != DMARC_PARSE_OKAY)
		return -1;
	lib_ready = 1;
	return 0;
}

/* The DMARC record published for name ("" if none); -1 on temporary failure. */
static int fetch_record(const char *domain, char *rec, size_t len)
{
	char name[300], **txt;
	size_t n;
	rec[0] = '\0';
	snprintf(name, sizeof name, "_dmarc.%s", domain);
	enum dns_status st = dns_txt(name, &txt, &n);
	if (st == DNS_TEMPFAIL)
		return -1;
	if (st != DNS_OK)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!strncasecmp(txt[i], "v=DMARC1", 8) && (txt[i][8] == ';' || txt[i][8] == ' ' ||
							    txt[i][8] == '\0')) {
			snprintf(rec, len, "%s", txt[i]);
			break;
		}
	}
	dns_txt_free(txt, n);
	return 0;
}

static enum dmarc_policy policy_of(int p)
{
	return p == DMARC_RECORD_P_REJECT ? DMARC_P_REJECT
	     : p == DMARC_RECORD_P_QUARANTINE ? DMARC_P_QUARANTINE : DMARC_P_NONE;
}

/* Organisational domain (RFC 7489 3.2) from the public suffix list. A domain
 * under a suffix the list does not know gets the list's default rule "*" (its
 * last two labels): libopendmarc returns "" there, and comparing two empty
 * strings would align every domain with every other. */
void dmarc_org_domain(const char *domain, char *out, size_t len)
{
	out[0] = '\0';	/* the library leaves out untouched when nothing matches */
	if (opendmarc_get_tld((u_char *)domain, (u_char *)out, len) == 0 && out[0])
		return;
	const char *last = strrchr(domain, '.'), *p = domain;
	if (last) {
		for (const char *q = domain; q < last; q++)
			if (*q == '.')
				p = q + 1;
	}
	snprintf(out, len, "%s", p);
}

/* Identifier alignment (RFC 7489 3.1): strict = same name, relaxed = same
 * organisational domain. */
static bool aligned(const char *a, const char *b, bool strict)
{
	if (!a || !b || !*a || !*b)
		return false;
	if (!strcasecmp(a, b))
		return true;
	if (strict)
		return false;
	char oa[256], ob[256];
	dmarc_org_domain(a, oa, sizeof oa);
	dmarc_org_domain(b, ob, sizeof ob);
	return strcasecmp(oa, ob) == 0;
}

static bool dkim_aligned_pass(const struct dmarc_input *in, bool strict)
{
	for (int i = 0; in->dkim && i < in->dkim->nsigs; i++)
		if (in->dkim->sigs[i].result == DKIM_PASS &&
		    aligned(in->dkim->sigs[i].domain, in->from_domain, strict))
			return true;
	return false;
}

static bool dkim_tempfailed(const struct dmarc_input *in)
{
	for (int i = 0; in->dkim && i < in->dkim->nsigs; i++)
		if (in->dkim->sigs[i].result == DKIM_TEMPERROR)
			return true;
	return false;
}

/* RFC 7489 6.6.4: a message not sampled by pct gets the next weaker policy. */
static enum dmarc_policy sample(enum dmarc_policy p, int pct)
{
	if (pct >= 100 || (pct > 0 && (int)(arc4random_uniform(100)) < pct))
		return p;
	return p == DMARC_P_REJECT ? DMARC_P_QUARANTINE : DMARC_P_NONE;
}

/* The fo= tag as written in reports ("0" when absent, the default). */
static void fo_string(DMARC_POLICY_T *ctx, char *out, size_t len)
{
	int fo = 0;
	static const struct { int bit; const char *name; } opts[] = {
		{ DMARC_RECORD_FO_0, "0" }, { DMARC_RECORD_FO_1, "1" },
		{ DMARC_RECORD_FO_D, "d" }, { DMARC_RECORD_FO_S, "s" },
	};
	size_t o = 0;
	out[0] = '\0';
	opendmarc_policy_fetch_fo(ctx, &fo);
	for (size_t i = 0; i < ARRAY_LEN(opts); i++)
		if ((fo & opts[i].bit) && o + 3 < len)
			o += (size_t)snprintf(out + o, len - o, "%s%s", o ? ":" : "", opts[i].name);
	if (!out[0])
		snprintf(out, len, "0");
}

void dmarc_evaluate(const struct dmarc_input *in, struct dmarc_verdict *out)
{
	char org[256] = "", rec[512];
	memset(out, 0, sizeof *out);
	out->pct = 100;
	if (!lib_ready && dmarc_init(NULL) < 0) {
		out->result = DMARC_RES_TEMPERROR;
		return;
	}
	if (!in->from_domain || !*in->from_domain) {
		out->result = DMARC_RES_PERMERROR;
		return;
	}
	const char *used = in->from_domain;
	if (fetch_record(used, rec, sizeof rec) < 0) {
		out->result = DMARC_RES_TEMPERROR;
		return;
	}
	dmarc_org_domain(in->from_domain, org, sizeof org);
	if (!rec[0] && strcasecmp(org, in->from_domain)) {
		used = org;
		if (fetch_record(used, rec, sizeof rec) < 0) {
			out->result = DMARC_RES_TEMPERROR;
			return;
		}
	}
	snprintf(out->policy_domain, sizeof out->policy_domain, "%s", used);
	snprintf(out->record, sizeof out->record, "%s", rec);
	if (!rec[0]) {
		out->result = DMARC_RES_NONE;
		return;
	}

	unsigned char ipbuf[16];
	int v6 = inet_pton(AF_INET6, in->client_ip, ipbuf) == 1;
	DMARC_POLICY_T *ctx = opendmarc_policy_connect_init((u_char *)in->client_ip,
		v6 ? DMARC_POLICY_IP_TYPE_IPV6 : DMARC_POLICY_IP_TYPE_IPV4);
	if (!ctx) {
		out->result = DMARC_RES_TEMPERROR;
		return;
	}
	opendmarc_policy_store_from_domain(ctx, (u_char *)in->from_domain);
	if (opendmarc_policy_store_dmarc(ctx, (u_char *)rec, (u_char *)in->from_domain,
					 used == org ? (u_char *)org : NULL) != DMARC_PARSE_OKAY) {
		out->result = DMARC_RES_PERMERROR;
		opendmarc_policy_connect_shutdown(ctx);
		return;
	}
	/* The library parses the record; alignment and the verdict are ours (see
	 * dmarc_org_domain for why). */
	int p = 0, sp = 0, pct = 100, adkim = 0, aspf = 0;
	opendmarc_policy_fetch_p(ctx, &p);
	opendmarc_policy_fetch_sp(ctx, &sp);
	opendmarc_policy_fetch_pct(ctx, &pct);
	opendmarc_policy_fetch_adkim(ctx, &adkim);
	opendmarc_policy_fetch_aspf(ctx, &aspf);
	out->pct = pct;
	out->p = policy_of(p);
	out->sp = sp ? policy_of(sp) : out->p;
	out->adkim = adkim == DMARC_RECORD_A_STRICT ? 's' : 'r';
	out->aspf = aspf == DMARC_RECORD_A_STRICT ? 's' : 'r';
	fo_string(ctx, out->fo, sizeof out->fo);
	out->dkim_aligned = dkim_aligned_pass(in, adkim == DMARC_RECORD_A_STRICT);
	out->spf_aligned = in->spf == SPF_PASS &&
			   aligned(in->spf_domain, in->from_domain, aspf == DMARC_RECORD_A_STRICT);
	/* sp= applies to subdomains of the organisational domain (RFC 7489 6.3). */
	bool sub = strcasecmp(in->from_domain, org) != 0;
	out->policy = policy_of(sub && sp ? sp : p);
	u_char ruabuf[512] = "";
	if (opendmarc_policy_fetch_rua(ctx, ruabuf, sizeof ruabuf, 1) && ruabuf[0])
		snprintf(out->rua, sizeof out->rua, "%s", ruabuf);
	if (out->dkim_aligned || out->spf_aligned) {
		out->result = DMARC_RES_PASS;
	} else if (in->spf == SPF_TEMPERROR || dkim_tempfailed(in)) {
		/* A temporary failure never becomes a reject. */
		out->result = DMARC_RES_TEMPERROR;
	} else {
		out->result = DMARC_RES_FAIL;
		out->disposition = sample(out->policy, pct);
	}
	opendmarc_policy_connect_shutdown(ctx);
}

const char *dmarc_result_str(enum dmarc_result r)
{
	static const char *names[] = { "none", "pass", "fail", "temperror", "permerror" };
	return (unsigned)r < ARRAY_LEN(names) ? names[r] : "permerror";
}

const char *dmarc_policy_str(enum dmarc_policy p)
{
	static const char *names[] = { "none", "quarantine", "reject" };
	return (unsigned)p < ARRAY_LEN(names) ? names[p] : "none";
}
