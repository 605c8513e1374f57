/* dnssec.c — validated lookups through libunbound (see dnssec.h). */
#include "common/dnssec.h"
#include "common/log.h"
#include "common/util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unbound.h>

#define T_DNSKEY	48
#define T_TLSA		52
#define PROBE_INTERVAL_MS	(5 * 60 * 1000)
#define TA_OWNERS_MAX	8

static struct ub_ctx *ctx;
static char *ta_owner[TA_OWNERS_MAX];
static size_t nta_owner;
static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t probed_at;
static bool probe_ok;

const char *dnssec_state_str(enum dnssec_state s)
{
	switch (s) {
	case DNSSEC_SECURE: return "secure";
	case DNSSEC_INSECURE: return "insecure";
	case DNSSEC_BOGUS: return "bogus";
	default: return "temporary failure";
	}
}

/* "host:port", "[v6]:port", "host" or a bare IPv6 address -> "addr@port". */
static char *forwarder(const char *server)
{
	const char *colon = strrchr(server, ':');
	if (server[0] == '[') {
		const char *end = strchr(server, ']');
		if (!end)
			return NULL;
		return end[1] == ':' ? xasprintf("%.*s@%s", (int)(end - server - 1), server + 1, end + 2)
				     : xasprintf("%.*s", (int)(end - server - 1), server + 1);
	}
	if (colon && strchr(server, ':') == colon)
		return xasprintf("%.*s@%s", (int)(colon - server), server, colon + 1);
	return xstrdup(server);
}

/* Owner name of a trust anchor line, remembered so its DNSKEY can be probed. */
static void remember_owner(const char *line)
{
	size_t n = strcspn(line, " \t");
	if (n == 0 || nta_owner >= TA_OWNERS_MAX)
		return;
	for (size_t i = 0; i < nta_owner; i++)
		if (strlen(ta_owner[i]) == n && !strncasecmp(ta_owner[i], line, n))
			return;
	ta_owner[nta_owner++] = xstrndup(line, n);
}

static int load_anchors(const char *ta_file, char *why, size_t whylen)
{
	FILE *f = fopen(ta_file, "re");
	if (!f) {
		snprintf(why, whylen, "cannot read trust anchors %s: %m", ta_file);
		return -1;
	}
	char line[4096];
	int added = 0;
	while (fgets(line, sizeof line, f)) {
		char *s = str_trim(line);
		if (!*s || *s == ';' || *s == '#' || (!strstr(s, " DS ") && !strstr(s, "\tDS\t") &&
		    !strstr(s, " DNSKEY ") && !strstr(s, "\tDNSKEY\t")))
			continue;
		int e = ub_ctx_add_ta(ctx, s);
		if (e) {
			snprintf(why, whylen, "%s: bad trust anchor: %s", ta_file, ub_strerror(e));
			fclose(f);
			return -1;
		}
		remember_owner(s);
		added++;
	}
	fclose(f);
	if (!added) {
		snprintf(why, whylen, "%s holds no DS or DNSKEY record", ta_file);
		return -1;
	}
	return 0;
}

int dnssec_init(const char *dns_server, const char *ta_file, char *why, size_t whylen)
{
	if (!ta_file || !*ta_file)
		return 0;	/* validation off: dnssec_usable() is false */
	ctx = ub_ctx_create();
	if (!ctx) {
		snprintf(why, whylen, "libunbound: cannot create a context");
		return -1;
	}
	/* A forwarder on loopback (a local resolver, a test server) is normal. */
	ub_ctx_set_option(ctx, "do-not-query-localhost:", "no");
	if (dns_server && *dns_server) {
		char *fwd = forwarder(dns_server);
		int e = fwd ? ub_ctx_set_fwd(ctx, fwd) : UB_SYNTAX;
		free(fwd);
		if (e) {
			snprintf(why, whylen, "dns_server %s: %s", dns_server, ub_strerror(e));
			return -1;
		}
	}
	if (load_anchors(ta_file, why, whylen) < 0)
		return -1;
	/* libunbound answers names under test. (RFC 6761) from a built-in empty
	 * zone; resolve them like any other, so a site's test zones work. This
	 * finalises the context: every setting above must come first. */
	ub_ctx_zone_remove(ctx, "test.");
	return 0;
}

static enum dnssec_state state_of(const struct ub_result *r, char *why, size_t whylen)
{
	if (r->bogus) {
		snprintf(why, whylen, "%s", r->why_bogus ? r->why_bogus : "signatures do not validate");
		return DNSSEC_BOGUS;
	}
	if (r->rcode != 0 && r->rcode != 3) {	/* neither NOERROR nor NXDOMAIN */
		snprintf(why, whylen, "DNS rcode %d", r->rcode);
		return DNSSEC_TEMPFAIL;
	}
	return r->secure ? DNSSEC_SECURE : DNSSEC_INSECURE;
}

static enum dnssec_state resolve(const char *name, int type, struct ub_result **r, char *why,
				 size_t whylen)
{
	*r = NULL;
	int e = ub_resolve(ctx, name, type, 1, r);
	if (e) {
		snprintf(why, whylen, "%s", ub_strerror(e));
		return DNSSEC_TEMPFAIL;
	}
	return state_of(*r, why, whylen);
}

static bool probe(void)
{
	for (size_t i = 0; i < nta_owner; i++) {
		struct ub_result *r;
		char why[256];
		enum dnssec_state st = resolve(ta_owner[i], T_DNSKEY, &r, why, sizeof why);
		bool ok = st == DNSSEC_SECURE && r->havedata;
		ub_resolve_free(r);
		if (ok)
			return true;
		log_warn("dnssec: the DNSKEY of trust anchor %s does not validate through the "
			 "configured DNS (%s%s%s): DANE is off until it does; use a server that "
			 "serves DNSSEC records or leave dns_server unset", ta_owner[i],
			 dnssec_state_str(st), st == DNSSEC_SECURE ? "" : ": ",
			 st == DNSSEC_SECURE ? "" : why);
	}
	return false;
}

bool dnssec_enabled(void)
{
	return ctx != NULL;
}

bool dnssec_usable(void)
{
	if (!ctx)
		return false;
	pthread_mutex_lock(&probe_lock);
	uint64_t now = now_ms();
	if (!probed_at || now - probed_at >= PROBE_INTERVAL_MS) {
		probe_ok = probe();
		probed_at = now;
	}
	bool ok = probe_ok;
	pthread_mutex_unlock(&probe_lock);
	return ok;
}

enum dnssec_state dnssec_check(const char *name, int type, bool *exists, char *why,
			       size_t whylen)
{
	struct ub_result *r;
	*exists = false;
	enum dnssec_state st = resolve(name, type, &r, why, whylen);
	if (r)
		*exists = r->havedata;
	ub_resolve_free(r);
	return st;
}

bool dnssec_tlsa_rdata(const unsigned char *d, int len, struct tlsa_rec *t)
{
	if (len < 3 || len - 3 > TLSA_DATA_MAX)
		return false;
	t->usage = d[0];
	t->selector = d[1];
	t->mtype = d[2];
	t->len = (uint16_t)(len - 3);
	memcpy(t->data, d + 3, t->len);
	return true;
}

enum dnssec_state dnssec_tlsa(const char *host, unsigned port, struct tlsa_rec *out,
			      size_t max, size_t *n, char *why, size_t whylen)
{
	char name[300];
	struct ub_result *r;
	*n = 0;
	snprintf(name, sizeof name, "_%u._tcp.%s", port, host);
	enum dnssec_state st = resolve(name, T_TLSA, &r, why, whylen);
	for (size_t i = 0; st == DNSSEC_SECURE && r->havedata && r->data[i] && *n < max; i++)
		if (dnssec_tlsa_rdata((const unsigned char *)r->data[i], r->len[i], &out[*n]))
			(*n)++;	/* malformed or too large ones are unusable, skipped */
	ub_resolve_free(r);
	return st;
}
