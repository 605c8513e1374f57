/* tls.h — OpenSSL 3 server and client contexts (TLS 1.2 and later) and the
 * libevent glue for STARTTLS and implicit TLS. The one place that touches the
 * OpenSSL API for TLS; everything else uses these functions. */
#ifndef TERN_TLS_H
#define TERN_TLS_H

#include <openssl/ssl.h>
#include <stddef.h>

/* Server context from PEM cert chain + key; NULL with a reason in why. */
SSL_CTX *tls_server_ctx(const char *cert_file, const char *key_file, char *why, size_t whylen);
/* Client context; verify: load system CAs (or ca_file) and verify peers. */
SSL_CTX *tls_client_ctx(const char *ca_file, int verify, char *why, size_t whylen);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384" style description of an established session. */
void tls_describe(SSL *ssl, char *buf, size_t len);

/* Generate a self-signed certificate for hostname (RSA 2048, 10 years) into the
 * two files (key mode 0600). 0 or -1 with why. */
int tls_make_selfsigned(const char *hostname, const char *cert_file, const char *key_file,
			char *why, size_t whylen);

#endif
