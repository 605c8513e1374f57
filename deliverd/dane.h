/* dane.h — DANE for SMTP (RFC 7672) in the remote agent: whether a
 * destination's MX records are DNSSEC-signed, and for each MX host the TLSA
 * records that make TLS mandatory and authenticated. The lookups are validated
 * in this process (common/dnssec.h). */
#ifndef TERN_DELIVERD_DANE_H
#define TERN_DELIVERD_DANE_H

#include "common/dnssec.h"

#include <openssl/ssl.h>
#include <stddef.h>

enum dane_verdict {
	DANE_NONE,	/* no DANE here: the other policies decide */
	DANE_VERIFY,	/* usable TLSA records: TLS required, authenticated by them */
	DANE_ENCRYPT,	/* only unusable TLSA records: TLS required, not authenticated */
	DANE_DEFER,	/* bogus or failed lookups: try later, never in clear */
};

struct dane_tlsa {
	struct tlsa_rec rec[TLSA_MAX];
	size_t n;
};

/* Does DANE apply to the destination domain (its MX RRset validated)? DANE_NONE,
 * DANE_VERIFY (look at each host) or DANE_DEFER; why says which. */
enum dane_verdict dane_domain(const char *domain, char *why, size_t whylen);
/* For an MX host of a DANE domain: its address records and TLSA records.
 * *t gets the usable records when DANE_VERIFY. */
enum dane_verdict dane_host(const char *host, unsigned port, struct dane_tlsa *t, char *why,
			    size_t whylen);
/* Give the records to an SSL object before the handshake (SNI and name checks
 * for DANE-TA included). 0, or -1 when OpenSSL refuses them all. */
int dane_ssl_setup(SSL *ssl, const char *host, const struct dane_tlsa *t);
/* After the handshake: the record that matched, "3 1 1 0f2e...", or "" */
void dane_matched(SSL *ssl, char *out, size_t len);

#endif
