/* site_link.h — a login role's connection to a mailbox host of the site
 * (imapd/siteproxy.c, pop3d/siteproxy.c): the TCP connect both proxies make,
 * and with site_tls = verify the TLS they start on it (STARTTLS / STLS on the
 * host's plain IMAP or POP3 port) before anything of the login crosses,
 * checked against site_ca_file alone and for the host's name as
 * mailbox_hosts spells it. */
#ifndef TERN_SITE_LINK_H
#define TERN_SITE_LINK_H

#include "common/site.h"

#include <event2/bufferevent.h>
#include <openssl/ssl.h>
#include <stddef.h>

/* The client context for the site's hops, read now (before any chroot):
 * NULL with why "" when site_tls = none or there are no mailbox hosts, NULL
 * with why when site_ca_file cannot be used. */
SSL_CTX *site_link_tls_ctx(const struct site *s, char *why, size_t whylen);

/* A bufferevent connecting to h's service port (SITE_PORT_IMAP, ...) with
 * the callbacks, timeout_s for the connect and each read and write; NULL
 * when h->addr is no IP literal or the connect fails at once. */
struct bufferevent *site_link_connect(struct event_base *base, const struct site_host *h,
				      unsigned offset, bufferevent_data_cb readcb,
				      bufferevent_event_cb eventcb, void *arg, unsigned timeout_s);

/* Start TLS on bev once the host said yes to STARTTLS (nothing after that
 * reply may be buffered: injected text, CVE-2011-0411): a new bufferevent
 * that owns bev, with the callbacks and timeout; eventcb hears
 * BEV_EVENT_CONNECTED once the handshake verified h's certificate, and
 * BEV_EVENT_ERROR when it did not (site_link_tls_error says why). NULL with
 * why when bev holds unread bytes (bev is left to the caller). */
struct bufferevent *site_link_starttls(struct bufferevent *bev, SSL_CTX *ctx,
				       const struct site_host *h, bufferevent_data_cb readcb,
				       bufferevent_event_cb eventcb, void *arg, unsigned timeout_s,
				       char *why, size_t whylen);

/* Why the TLS link bev failed, for the log ("certificate did not verify:
 * ...", an OpenSSL error, or "" when it was no TLS failure). */
void site_link_tls_error(struct bufferevent *bev, char *why, size_t whylen);

#endif
