/* sts_policy.h — MTA-STS (RFC 8461) as a sender reads it: the TXT record
 * at _mta-sts.DOMAIN (3.1), the policy file (3.2), and matching an MX host
 * against the policy's mx patterns (4.1). Pure parsing, bounded: no I/O. */
#ifndef TERN_STS_POLICY_H
#define TERN_STS_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STS_POLICY_MAX	65536	/* RFC 8461 3.3: senders may refuse longer bodies */
#define STS_MX_MAX	32
#define STS_ID_MAX	32
#define STS_MAX_AGE_MAX	31557600	/* one year (3.2) */

enum sts_mode { STS_NONE, STS_TESTING, STS_ENFORCE };

struct sts_policy {
	enum sts_mode mode;
	uint64_t max_age;		/* seconds */
	char mx[STS_MX_MAX][256];	/* patterns, lower case, "*.example.net" allowed */
	size_t nmx;
	char id[STS_ID_MAX + 1];	/* from the TXT record it was fetched under */
};

/* "v=STSv1; id=20160831085700Z;" -> id (1-32 letters and digits). Several
 * records, or none valid, are "no policy" (3.1): callers pass each record and
 * accept exactly one. */
bool sts_txt_parse(const char *txt, char id[STS_ID_MAX + 1]);
/* The policy file body (n bytes, CRLF or LF lines). false with why. */
bool sts_policy_parse(const char *text, size_t n, struct sts_policy *p, char *why, size_t whylen);
/* Does the MX host name (trailing dot allowed) match one of the patterns? */
bool sts_mx_match(const struct sts_policy *p, const char *host);
const char *sts_mode_name(enum sts_mode m);

#endif
