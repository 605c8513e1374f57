/* tls.c — OpenSSL contexts and self-signed certificates. */
#include "common/tls.h"
#include "common/util.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <unistd.h>

static void ssl_reason(char *why, size_t whylen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256];
	ERR_error_string_n(e, buf, sizeof buf);
	snprintf(why, whylen, "%s: %s", what, e ? buf : "unknown error");
	ERR_clear_error();
}

SSL_CTX *tls_server_ctx(const char *cert_file, const char *key_file, char *why, size_t whylen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		ssl_reason(why, whylen, "SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
				 SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* An idle connection (IDLE, an EventSource stream) keeps no record
	 * buffers: about 34 KiB each otherwise (docs/PERFORMANCE.md). */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		ssl_reason(why, whylen, cert_file);
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		ssl_reason(why, whylen, key_file);
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

SSL_CTX *tls_client_ctx(const char *ca_file, int verify, char *why, size_t whylen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		ssl_reason(why, whylen, "SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1
		    : SSL_CTX_set_default_verify_paths(ctx) != 1) {
		if (verify) {
			ssl_reason(why, whylen, ca_file ? ca_file : "default CA paths");
			SSL_CTX_free(ctx);
			return NULL;
		}
	}
	SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	return ctx;
}

void tls_describe(SSL *ssl, char *buf, size_t len)
{
	snprintf(buf, len, "%s %s", SSL_get_version(ssl), SSL_get_cipher_name(ssl));
}

static int write_pem(const char *path, int mode, int (*fn)(FILE *, void *), void *obj)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return -1;
	}
	int ok = fn(f, obj);
	return (fclose(f) == 0 && ok) ? 0 : -1;
}

static int pem_key(FILE *f, void *k)
{
	return PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL);
}

static int pem_cert(FILE *f, void *x)
{
	return PEM_write_X509(f, x);
}

int tls_make_selfsigned(const char *hostname, const char *cert_file, const char *key_file,
			char *why, size_t whylen)
{
	int rc = -1;
	EVP_PKEY *key = EVP_RSA_gen(2048);
	X509 *x = X509_new();
	if (!key || !x) {
		ssl_reason(why, whylen, "key generation");
		goto out;
	}
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(now_ms() & 0x7fffffff));
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 10L * 365 * 86400);
	X509_set_pubkey(x, key);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)hostname, -1, -1, 0);
	X509_set_issuer_name(x, name);
	char *san = xasprintf("DNS:%s", hostname);
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, san);
	free(san);
	if (ext) {
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	if (!X509_sign(x, key, EVP_sha256())) {
		ssl_reason(why, whylen, "certificate signing");
		goto out;
	}
	if (write_pem(key_file, 0600, pem_key, key) < 0 || write_pem(cert_file, 0644, pem_cert, x) < 0) {
		snprintf(why, whylen, "cannot write %s or %s", key_file, cert_file);
		goto out;
	}
	rc = 0;
out:
	EVP_PKEY_free(key);
	X509_free(x);
	return rc;
}
