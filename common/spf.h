/* spf.h — SPF (RFC 7208) checks of the HELO and MAIL FROM identities through
 * libspf2, with its DNS going through common/dns (so `dns_server` and chroots
 * work: libspf2's own resolver layer reads /etc/resolv.conf by itself). */
#ifndef TERN_SPF_H
#define TERN_SPF_H

#include <stddef.h>

enum spf_result {
	SPF_NONE, SPF_NEUTRAL, SPF_PASS, SPF_FAIL, SPF_SOFTFAIL, SPF_TEMPERROR, SPF_PERMERROR,
};

/* Check one identity for the client address ip (IPv4 or IPv6 text).
 * sender: the MAIL FROM address, or NULL/"" to check the HELO identity alone
 * (RFC 7208 2.3: postmaster@helo). receiver: our host name (for %{r}).
 * comment: receives a short human-readable reason (may be NULL). */
enum spf_result spf_check(const char *ip, const char *helo, const char *sender,
			  const char *receiver, char *comment, size_t commentlen);

/* "pass", "fail", ... as used in Authentication-Results (RFC 8601). */
const char *spf_result_str(enum spf_result r);

#endif
