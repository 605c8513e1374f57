/* spf.c — libspf2 with a DNS layer over common/dns. */
#include <sys/types.h>
#include <netinet/in.h>
#include <arpa/nameser.h>
#include <resolv.h>
#include <spf2/spf.h>
#include <spf2/spf_dns.h>

#include "common/dns.h"
#include "common/spf.h"
#include "common/util.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Set when a lookup of the current check failed temporarily: libspf2 1.2.10
 * reports such checks as permerror (or none), while RFC 7208 (4.4, 5.2) makes
 * any DNS failure other than "no such name" a temperror. */
/* Per thread: smtpd checks SPF on several worker threads at once. */
static __thread int saw_tempfail;

/* Copy one answer record into slot cnt of rr; 0 ok, -1 give up. */
static int copy_record(SPF_dns_rr_t *rr, int cnt, ns_msg *msg, ns_rr *r)
{
	const unsigned char *rd = ns_rr_rdata(*r);
	size_t rdlen = ns_rr_rdlen(*r);
	char name[NS_MAXDNAME];

	switch (ns_rr_type(*r)) {
	case ns_t_a:
		if (rdlen != 4 || SPF_dns_rr_buf_realloc(rr, cnt, 4) != SPF_E_SUCCESS)
			return -1;
		memcpy(&rr->rr[cnt]->a, rd, 4);
		return 0;
	case ns_t_aaaa:
		if (rdlen != 16 || SPF_dns_rr_buf_realloc(rr, cnt, 16) != SPF_E_SUCCESS)
			return -1;
		memcpy(&rr->rr[cnt]->aaaa, rd, 16);
		return 0;
	case ns_t_mx:
	case ns_t_ptr: {
		const unsigned char *np = ns_rr_type(*r) == ns_t_mx ? rd + 2 : rd;
		if (rdlen < 3 || ns_name_uncompress(ns_msg_base(*msg), ns_msg_end(*msg), np, name,
						    sizeof name) < 0)
			return -1;
		if (SPF_dns_rr_buf_realloc(rr, cnt, strlen(name) + 1) != SPF_E_SUCCESS)
			return -1;
		strcpy(ns_rr_type(*r) == ns_t_mx ? rr->rr[cnt]->mx : rr->rr[cnt]->ptr, name);
		return 0;
	}
	case ns_t_txt: {
		/* Concatenate the character-strings (RFC 7208 3.3). */
		if (SPF_dns_rr_buf_realloc(rr, cnt, rdlen + 1) != SPF_E_SUCCESS)
			return -1;
		char *dst = rr->rr[cnt]->txt;
		size_t off = 0, o = 0;
		while (off < rdlen) {
			size_t l = rd[off++];
			if (l > rdlen - off)
				return -1;
			memcpy(dst + o, rd + off, l);
			o += l;
			off += l;
		}
		dst[o] = '\0';
		return 0;
	}
	default:
		return 1;	/* not a type we keep */
	}
}

static SPF_dns_rr_t *tern_lookup(SPF_dns_server_t *server, const char *domain, ns_type type,
				 int should_cache)
{
	unsigned char *ans;
	int len;
	enum dns_status st = dns_query_raw(domain, type, &ans, &len);
	if (st != DNS_OK) {
		int herr = st == DNS_NXDOMAIN ? HOST_NOT_FOUND : st == DNS_NODATA ? NO_DATA
			 : st == DNS_ERROR ? NO_RECOVERY : TRY_AGAIN;
		if (herr == TRY_AGAIN)
			saw_tempfail = 1;
		return SPF_dns_rr_new_init(server, domain, type, 0, herr);
	}
	SPF_dns_rr_t *rr = SPF_dns_rr_new_init(server, domain, type, 0, NETDB_SUCCESS);
	ns_msg msg;
	int cnt = 0;
	if (rr && ns_initparse(ans, len, &msg) == 0) {
		int n = ns_msg_count(msg, ns_s_an);
		for (int i = 0; i < n; i++) {
			ns_rr r;
			if (ns_parserr(&msg, ns_s_an, i, &r) < 0)
				break;
			if (ns_rr_type(r) != type)
				continue;
			int c = copy_record(rr, cnt, &msg, &r);
			if (c < 0)
				break;
			if (c == 0)
				cnt++;
		}
	}
	free(ans);
	if (rr) {
		rr->num_rr = cnt;
		if (cnt == 0)
			rr->herrno = NO_DATA;
	}
	return rr;
}

/* One libspf2 server per thread: SPF_server_set_rec_dom and the response
 * state are not thread-safe (a shared server double-freed rec_dom under load). */
static SPF_server_t *spf_server(void)
{
	static __thread SPF_server_t *server;
	if (!server) {
		SPF_dns_server_t *layer = xcalloc(1, sizeof *layer);
		layer->lookup = tern_lookup;
		layer->name = "tern";
		layer->destroy = NULL;	/* lives as long as the process */
		server = SPF_server_new_dns(layer, 0);
		if (!server)
			fatal("libspf2: cannot create an SPF server");
	}
	return server;
}

static enum spf_result map_result(SPF_result_t r)
{
	switch (r) {
	case SPF_RESULT_NEUTRAL: return SPF_NEUTRAL;
	case SPF_RESULT_PASS: return SPF_PASS;
	case SPF_RESULT_FAIL: return SPF_FAIL;
	case SPF_RESULT_SOFTFAIL: return SPF_SOFTFAIL;
	case SPF_RESULT_NONE: return SPF_NONE;
	case SPF_RESULT_TEMPERROR: return SPF_TEMPERROR;
	default: return SPF_PERMERROR;
	}
}

/* libspf2's SPF_request_query_mailfrom answers pass for every loopback client
 * without reading the record ("localhost always gets a free ride"). With
 * trusted_networks emptied that pass would be a lie, and DMARC would align a
 * forged From on it. For loopback clients take libspf2's own steps without that
 * shortcut: the current domain as its query would set it, the record, then the
 * record's evaluation for this address. */
static void query_loopback(SPF_server_t *server, SPF_request_t *req, SPF_response_t **resp)
{
	SPF_record_t *rec = NULL;
	*resp = SPF_response_new(req);
	if (!*resp)
		return;
	req->cur_dom = req->use_helo ? req->helo_dom : req->env_from_dp;
	if (SPF_server_get_record(server, req, *resp, &rec) != SPF_E_SUCCESS || !rec) {
		if (rec)
			SPF_record_free(rec);
		return;
	}
	(*resp)->spf_record_exp = rec;
	SPF_record_interpret(rec, req, *resp, 0);
	(*resp)->spf_record_exp = NULL;
	SPF_record_free(rec);
}

enum spf_result spf_check(const char *ip, const char *helo, const char *sender,
			  const char *receiver, char *comment, size_t commentlen)
{
	SPF_server_t *server = spf_server();
	SPF_request_t *req = SPF_request_new(server);
	SPF_response_t *resp = NULL;
	enum spf_result res = SPF_PERMERROR;

	if (comment && commentlen)
		comment[0] = '\0';
	saw_tempfail = 0;
	if (receiver)
		SPF_server_set_rec_dom(server, receiver);
	if (SPF_request_set_ipv4_str(req, ip) != SPF_E_SUCCESS &&
	    SPF_request_set_ipv6_str(req, ip) != SPF_E_SUCCESS) {
		snprintf(comment, commentlen, "bad client address");
		SPF_request_free(req);
		return SPF_PERMERROR;
	}
	if (helo && *helo)
		SPF_request_set_helo_dom(req, helo);
	if (sender && *sender)
		SPF_request_set_env_from(req, sender);
	if (SPF_request_is_loopback(req))
		query_loopback(server, req, &resp);
	else
		SPF_request_query_mailfrom(req, &resp);
	if (resp) {
		res = map_result(SPF_response_result(resp));
		if (saw_tempfail && res != SPF_PASS && res != SPF_FAIL)
			res = SPF_TEMPERROR;
		const char *c = SPF_response_get_header_comment(resp);
		if (comment && c)
			snprintf(comment, commentlen, "%s", c);
		SPF_response_free(resp);
	}
	SPF_request_free(req);
	return res;
}

const char *spf_result_str(enum spf_result r)
{
	static const char *names[] = { "none", "neutral", "pass", "fail", "softfail",
				       "temperror", "permerror" };
	return (unsigned)r < ARRAY_LEN(names) ? names[r] : "permerror";
}
