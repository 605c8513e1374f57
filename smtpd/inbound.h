/* inbound.h — inbound mail authentication in smtpd (PRODUCT.md 6): on the MX
 * port, for clients that are neither authenticated nor in trusted_networks,
 * SPF is checked at MAIL FROM, DKIM while the data streams in, DMARC and the
 * site's policy at the end of data; the Authentication-Results header travels
 * to queued as header fields to prepend. DNS work runs on worker threads, so
 * the event loop never waits for a resolver. Forged Authentication-Results
 * fields naming our host are removed from every incoming message. */
#ifndef TERN_SMTPD_INBOUND_H
#define TERN_SMTPD_INBOUND_H

#include <stdbool.h>
#include <stddef.h>

struct session;
struct server;
struct cfg;

/* Read the policy settings; start the workers (before privileges are dropped:
 * reads the public suffix list and the resolver configuration). */
void inbound_init(struct server *srv, const struct cfg *conf, const char *dns_server);
/* Do the checks apply to this session's transaction? */
bool inbound_applies(const struct session *s);
/* MAIL FROM accepted so far: run SPF; continues with txn_mail_checked(). */
void inbound_mail(struct session *s);
/* Data as it is spooled (after dot-unstuffing, before our filter). */
void inbound_body_begin(struct session *s);
void inbound_body(struct session *s, const char *p, size_t n);
/* End of data: DKIM/DMARC/policy; continues with txn_body_checked(). */
void inbound_end(struct session *s);
void inbound_free(struct session *s);

#endif
