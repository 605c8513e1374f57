/* site_link.c — the login roles' connections to the site's mailbox hosts. */
#include "common/site_link.h"
#include "common/tls.h"

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <stdio.h>

SSL_CTX *site_link_tls_ctx(const struct site *s, char *why, size_t whylen)
{
	why[0] = '\0';
	if (!s->tls_verify || !s->nhosts)
		return NULL;
	char bad[256];
	SSL_CTX *ctx = tls_client_ctx(s->ca_file, 1, bad, sizeof bad);
	if (!ctx)
		snprintf(why, whylen, "site_ca_file: %s", bad);
	return ctx;
}

struct bufferevent *site_link_connect(struct event_base *base, const struct site_host *h,
				      unsigned offset, bufferevent_data_cb readcb,
				      bufferevent_event_cb eventcb, void *arg, unsigned timeout_s)
{
	struct sockaddr_storage ss;
	socklen_t sslen = site_service_sockaddr(h, offset, &ss);
	if (!sslen)
		return NULL;
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE |
							 BEV_OPT_DEFER_CALLBACKS);
	if (!bev)
		return NULL;
	bufferevent_setcb(bev, readcb, NULL, eventcb, arg);
	struct timeval tv = { (time_t)timeout_s, 0 };
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(bev, (struct sockaddr *)&ss, (int)sslen) < 0) {
		bufferevent_free(bev);
		return NULL;
	}
	return bev;
}

struct bufferevent *site_link_starttls(struct bufferevent *bev, SSL_CTX *ctx,
				       const struct site_host *h, bufferevent_data_cb readcb,
				       bufferevent_event_cb eventcb, void *arg, unsigned timeout_s,
				       char *why, size_t whylen)
{
	if (evbuffer_get_length(bufferevent_get_input(bev))) {
		snprintf(why, whylen, "sent data before the TLS handshake");
		return NULL;
	}
	SSL *ssl = SSL_new(ctx);
	if (!ssl) {
		snprintf(why, whylen, "SSL_new failed");
		return NULL;
	}
	/* SNI and the name check: the name the site gave the host (an IP
	 * address there is checked as one, against the certificate's IP SANs) */
	SSL_set_tlsext_host_name(ssl, h->name);
	SSL_set1_host(ssl, h->name);
	struct bufferevent *tls = bufferevent_openssl_filter_new(
		bufferevent_get_base(bev), bev, ssl, BUFFEREVENT_SSL_CONNECTING,
		BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (!tls) {
		SSL_free(ssl);
		snprintf(why, whylen, "cannot start TLS");
		return NULL;
	}
	bufferevent_setcb(tls, readcb, NULL, eventcb, arg);
	struct timeval tv = { (time_t)timeout_s, 0 };
	bufferevent_set_timeouts(tls, &tv, &tv);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
	return tls;
}

void site_link_tls_error(struct bufferevent *bev, char *why, size_t whylen)
{
	why[0] = '\0';
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	if (!ssl)
		return;
	long v = SSL_get_verify_result(ssl);
	unsigned long e = bufferevent_get_openssl_error(bev);
	if (v != X509_V_OK) {
		snprintf(why, whylen, "certificate did not verify: %s",
			 X509_verify_cert_error_string(v));
	} else if (e) {
		char buf[200];
		ERR_error_string_n(e, buf, sizeof buf);
		snprintf(why, whylen, "TLS: %s", buf);
	}
	while (bufferevent_get_openssl_error(bev))
		;
}
