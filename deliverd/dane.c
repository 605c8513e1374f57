/* dane.c — DANE for SMTP (RFC 7672) in the remote agent (see dane.h). */
#include "deliverd/dane.h"
#include "common/util.h"

#include <stdio.h>
#include <string.h>

#define T_A	1
#define T_MX	15
#define T_AAAA	28

enum dane_verdict dane_domain(const char *domain, char *why, size_t whylen)
{
	bool exists;
	char err[256];
	if (!dnssec_enabled()) {
		snprintf(why, whylen, "DANE off (smtp_dane = no)");
		return DANE_NONE;
	}
	enum dnssec_state st = dnssec_check(domain, T_MX, &exists, err, sizeof err);
	switch (st) {
	case DNSSEC_SECURE:
		snprintf(why, whylen, "MX of %s is signed", domain);
		return DANE_VERIFY;
	case DNSSEC_INSECURE:
		snprintf(why, whylen, "MX of %s is not signed", domain);
		return DANE_NONE;
	default:
		/* A DNS server that serves no DNSSEC at all makes every answer bogus:
		 * then DANE cannot work (dnssec_usable logs why) */
		if (!dnssec_usable()) {
			snprintf(why, whylen, "no DNSSEC validation through the configured DNS");
			return DANE_NONE;
		}
		/* RFC 7672 2.2.1: a bogus or failed MX lookup is a temporary failure */
		snprintf(why, whylen, "MX lookup of %s: %s: %s", domain, dnssec_state_str(st), err);
		return DANE_DEFER;
	}
}

/* RFC 7672 2.2.2: TLSA records are looked up only for hosts whose address
 * records are signed too. */
static enum dnssec_state address_state(const char *host, char *err, size_t errlen)
{
	bool e4, e6;
	enum dnssec_state s4 = dnssec_check(host, T_A, &e4, err, errlen);
	if (s4 == DNSSEC_BOGUS || s4 == DNSSEC_TEMPFAIL)
		return s4;
	enum dnssec_state s6 = dnssec_check(host, T_AAAA, &e6, err, errlen);
	if (s6 == DNSSEC_BOGUS)
		return s6;
	return s4 == DNSSEC_SECURE ? DNSSEC_SECURE : s6 == DNSSEC_TEMPFAIL ? s6 : s4;
}

/* Usable for SMTP (RFC 7672 3.1): DANE-TA(2) and DANE-EE(3), selector Cert(0)
 * or SPKI(1), matching type Full(0), SHA2-256(1) or SHA2-512(2). */
static bool usable(const struct tlsa_rec *r)
{
	return (r->usage == 2 || r->usage == 3) && r->selector <= 1 && r->mtype <= 2 &&
	       (r->mtype != 1 || r->len == 32) && (r->mtype != 2 || r->len == 64);
}

enum dane_verdict dane_host(const char *host, unsigned port, struct dane_tlsa *t, char *why,
			    size_t whylen)
{
	struct dane_tlsa all;
	char err[256];
	enum dnssec_state st = address_state(host, err, sizeof err);
	t->n = 0;
	if (st == DNSSEC_INSECURE) {
		snprintf(why, whylen, "addresses of %s are not signed", host);
		return DANE_NONE;
	}
	if (st != DNSSEC_SECURE) {
		snprintf(why, whylen, "address lookup of %s: %s: %s", host, dnssec_state_str(st), err);
		return DANE_DEFER;
	}
	st = dnssec_tlsa(host, port, all.rec, TLSA_MAX, &all.n, err, sizeof err);
	if (st == DNSSEC_INSECURE || (st == DNSSEC_SECURE && all.n == 0)) {
		snprintf(why, whylen, "no TLSA records for _%u._tcp.%s", port, host);
		return DANE_NONE;
	}
	if (st != DNSSEC_SECURE) {
		snprintf(why, whylen, "TLSA lookup of _%u._tcp.%s: %s: %s", port, host,
			 dnssec_state_str(st), err);
		return DANE_DEFER;
	}
	for (size_t i = 0; i < all.n; i++)
		if (usable(&all.rec[i]))
			t->rec[t->n++] = all.rec[i];
	if (!t->n) {
		snprintf(why, whylen, "%zu TLSA record(s) for _%u._tcp.%s, none usable: TLS "
			 "required without authentication", all.n, port, host);
		return DANE_ENCRYPT;
	}
	snprintf(why, whylen, "%zu usable TLSA record(s) for _%u._tcp.%s", t->n, port, host);
	return DANE_VERIFY;
}

int dane_ssl_setup(SSL *ssl, const char *host, const struct dane_tlsa *t)
{
	if (SSL_dane_enable(ssl, host) <= 0)
		return -1;
	/* DANE-EE(3) authenticates the key alone: no name checks (RFC 7672 3.1.1) */
	SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	int added = 0;
	for (size_t i = 0; i < t->n; i++)
		if (SSL_dane_tlsa_add(ssl, t->rec[i].usage, t->rec[i].selector, t->rec[i].mtype,
				      t->rec[i].data, t->rec[i].len) > 0)
			added++;
	return added ? 0 : -1;
}

void dane_matched(SSL *ssl, char *out, size_t len)
{
	uint8_t u, s, m;
	unsigned const char *data;
	size_t dlen;
	out[0] = 0;
	if (SSL_get0_dane_tlsa(ssl, &u, &s, &m, &data, &dlen) < 0)
		return;
	int o = snprintf(out, len, "%u %u %u ", u, s, m);
	for (size_t i = 0; i < dlen && i < 8 && o > 0 && (size_t)o + 3 < len; i++)
		o += snprintf(out + o, len - (size_t)o, "%02x", data[i]);
	if (dlen > 8 && o > 0 && (size_t)o + 4 < len)
		snprintf(out + o, len - (size_t)o, "...");
}
