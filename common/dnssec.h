/* dnssec.h — DNS answers validated in this process (libunbound), for DANE
 * (RFC 7672): the MX and address records of a destination and its TLSA
 * records, each with the validation state. No upstream AD bit is trusted:
 * libunbound checks every signature from the configured trust anchor down.
 *
 * Queries go to dns_server (tern.conf) as a forwarder when it is set, else
 * libunbound resolves from the root itself. Call dnssec_init() before chroot
 * (it reads the trust anchor file); lookups may then run on any thread. */
#ifndef TERN_DNSSEC_H
#define TERN_DNSSEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dnssec_state {
	DNSSEC_SECURE,		/* validated, data or proven absence */
	DNSSEC_INSECURE,	/* provably unsigned (or DNSSEC off): no DANE */
	DNSSEC_BOGUS,		/* signatures failed: treat as an attack, defer */
	DNSSEC_TEMPFAIL,	/* no answer (timeout, SERVFAIL): defer */
};

#define TLSA_DATA_MAX 2048	/* a whole certificate (matching type 0) fits */
#define TLSA_MAX 16

struct tlsa_rec {
	uint8_t usage, selector, mtype;
	uint16_t len;
	unsigned char data[TLSA_DATA_MAX];
};

/* dns_server: "" or "HOST[:PORT]" (as tern.conf); ta_file: trust anchors in
 * zone-file form (DS or DNSKEY lines, e.g. /usr/share/dns/root.key), "" to
 * turn validation (and so DANE) off. 0, or -1 with why. */
int dnssec_init(const char *dns_server, const char *ta_file, char *why, size_t whylen);
/* Is validation configured (a trust anchor given)? */
bool dnssec_enabled(void);
/* Can answers be validated through the configured DNS? Asked after a bogus or
 * failed answer: false when the trust anchors' own DNSKEY records do not
 * validate either (a server that strips DNSSEC, or none answering), with a
 * warning in the log. The answer is kept for a few minutes. */
bool dnssec_usable(void);
/* State of name's RRset of type (MX, A, AAAA): *exists tells data vs none. */
enum dnssec_state dnssec_check(const char *name, int type, bool *exists, char *why,
			       size_t whylen);
/* TLSA records of _port._tcp.host: SECURE with *n > 0 when published and
 * signed; SECURE with *n == 0 when their absence is proven. */
enum dnssec_state dnssec_tlsa(const char *host, unsigned port, struct tlsa_rec *out,
			      size_t max, size_t *n, char *why, size_t whylen);
/* One TLSA record's RDATA (len bytes as libunbound gives it) into *t; false
 * when it is too short or its data exceeds TLSA_DATA_MAX. */
bool dnssec_tlsa_rdata(const unsigned char *d, int len, struct tlsa_rec *t);
const char *dnssec_state_str(enum dnssec_state s);

#endif
