/* mailauth.h — inbound mail authentication for one SMTP transaction: SPF on
 * the HELO and MAIL FROM identities, DKIM over the message as it streams in,
 * DMARC at the end, the site's policy, and the Authentication-Results header
 * (RFC 8601) to add. smtpd calls it on the MX port only (not for authenticated
 * submissions or trusted networks). */
#ifndef TERN_MAILAUTH_H
#define TERN_MAILAUTH_H

#include "common/dmarc.h"

#include <stdbool.h>
#include <stddef.h>

struct mailauth_policy {
	bool spf_reject;	/* SPF "fail" alone is refused (default: only recorded) */
	char **spf_overrides;	/* "domain=reject|mark": spf_reject per sender domain */
	size_t nspf_overrides;
	bool temperror_defer;	/* a DNS temperror gives 451 (default: accept and mark) */
	char **overrides;	/* "domain=none|quarantine|reject": local DMARC overrides */
	size_t noverrides;
};

enum mailauth_action { MA_ACCEPT, MA_QUARANTINE, MA_REJECT, MA_TEMPFAIL };

struct mailauth;

/* SPF is evaluated here (blocking DNS with the resolver's timeout). mail_from ""
 * for the null sender. */
struct mailauth *mailauth_begin(const char *hostname, const char *client_ip, const char *helo,
				const char *mail_from);
/* At MAIL FROM: refuse an SPF fail (policy.spf_reject) or defer a temperror
 * (policy.temperror_defer)? reply gets "550 5.7.23 ..." etc. */
enum mailauth_action mailauth_spf_action(const struct mailauth *m, const struct mailauth_policy *p,
					 char *reply, size_t replylen);
/* The message as received (CRLF lines, dot-unstuffed), in pieces. */
void mailauth_feed(struct mailauth *m, const char *p, size_t n);
/* End of data: DKIM + DMARC + policy. *header gets the complete
 * "Authentication-Results: ...\r\n" (malloc'd); reply the SMTP reply for
 * MA_REJECT/MA_TEMPFAIL. */
enum mailauth_action mailauth_finish(struct mailauth *m, const struct mailauth_policy *p,
				     char **header, char *reply, size_t replylen);
void mailauth_free(struct mailauth *m);

struct dmarc_record;
/* After mailauth_finish: the record for DMARC aggregate reports (RFC 7489
 * 7.2), with envelope_to left empty for the caller. False when there is
 * nothing to report (no DMARC record found, or no single From domain). */
bool mailauth_report(const struct mailauth *m, struct dmarc_record *r);

/* True if this header field (name and value, possibly folded) is an
 * Authentication-Results field claiming to come from hostname: such fields are
 * removed from incoming mail (RFC 8601 5). */
bool mailauth_is_forged(const char *field, size_t len, const char *hostname, bool complete);

#endif
