/* mailcrypt_smime.c — S/MIME through OpenSSL: the certificate (checks,
 * fingerprint, addresses) and streaming CMS encryption (RFC 8551 / RFC 5652:
 * EnvelopedData with AES-256-CBC, or AuthEnvelopedData with AES-256-GCM,
 * RFC 5083), base64-encoded into the sink as it is produced. */
#include "common/mailcrypt_int.h"
#include "common/util.h"

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void ssl_why(char *why, size_t whylen, const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "";
	if (e)
		ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	snprintf(why, whylen, "%s%s%s", what, e ? ": " : "", buf);
}

int mc_smime_parse(const char *text, size_t len, struct mc_key *k, char *why, size_t whylen)
{
	BIO *b = BIO_new_mem_buf(text, (int)len);
	k->cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	if (!k->cert) {
		ssl_why(why, whylen, "the certificate does not parse");
		return -1;
	}
	return 0;
}

static int64_t asn1_epoch(const ASN1_TIME *t)
{
	struct tm tm;
	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return 0;
	return (int64_t)timegm(&tm);
}

static void hex_fingerprint(const unsigned char *md, unsigned n, char *out, size_t size)
{
	size_t o = 0;
	for (unsigned i = 0; i < n && o + 4 <= size; i++)
		o += (size_t)snprintf(out + o, size - o, "%s%02X", i ? ":" : "", md[i]);
}

void mc_smime_info(const struct mc_key *k, struct mc_keyinfo *info)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	if (X509_digest(k->cert, EVP_sha256(), md, &n))
		hex_fingerprint(md, n, info->fingerprint, sizeof info->fingerprint);
	info->expires = asn1_epoch(X509_get0_notAfter(k->cert));
	STACK_OF(OPENSSL_STRING) *emails = X509_get1_email(k->cert);
	for (int i = 0; i < sk_OPENSSL_STRING_num(emails); i++)
		mc_addr_append(info->addresses, sizeof info->addresses, sk_OPENSSL_STRING_value(emails, i));
	X509_email_free(emails);
}

int mc_smime_usable(const struct mc_key *k, time_t now, char *why, size_t whylen)
{
	time_t t = now;
	if (X509_cmp_time(X509_get0_notBefore(k->cert), &t) > 0) {
		snprintf(why, whylen, "the certificate is not valid yet");
		return -1;
	}
	if (X509_cmp_time(X509_get0_notAfter(k->cert), &t) < 0) {
		char when[64] = "?";
		time_t e = (time_t)asn1_epoch(X509_get0_notAfter(k->cert));
		struct tm tm;
		if (gmtime_r(&e, &tm))
			strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
		snprintf(why, whylen, "the certificate expired on %s", when);
		return -1;
	}
	/* Key usage (keyEncipherment or keyAgreement) and extended key usage
	 * (emailProtection), as OpenSSL's S/MIME encryption purpose checks them. */
	if (X509_check_purpose(k->cert, X509_PURPOSE_SMIME_ENCRYPT, 0) != 1) {
		snprintf(why, whylen, "the certificate is not for S/MIME encryption (its key usage or "
			 "extended key usage forbids it)");
		return -1;
	}
	int id = EVP_PKEY_get_base_id(X509_get0_pubkey(k->cert));
	if (id != EVP_PKEY_RSA && id != EVP_PKEY_EC && id != EVP_PKEY_X25519 && id != EVP_PKEY_X448) {
		snprintf(why, whylen, "the certificate's key type cannot receive encrypted mail "
			 "(RSA or elliptic-curve keys can)");
		return -1;
	}
	return 0;
}

/* Compared without case: addresses are stored lower-case here, while
 * X509_check_email compares local parts exactly. */
int mc_smime_names(const struct mc_key *k, const char *address)
{
	STACK_OF(OPENSSL_STRING) *emails = X509_get1_email(k->cert);
	int n = sk_OPENSSL_STRING_num(emails), found = n > 0 ? 0 : -1;
	for (int i = 0; i < n && found < 1; i++)
		if (!strcasecmp(sk_OPENSSL_STRING_value(emails, i), address))
			found = 1;
	X509_email_free(emails);
	return found;
}

char *mc_smime_export(const struct mc_key *k, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *out = NULL;
	if (b && PEM_write_bio_X509(b, k->cert)) {
		char *p;
		long n = BIO_get_mem_data(b, &p);
		out = xstrndup(p, (size_t)n);
		*len = (size_t)n;
	}
	BIO_free(b);
	return out;
}

/* ---- a BIO writing into the sink ---- */

static int sinkbio_write(BIO *b, const char *p, int len)
{
	struct mc_sink *s = BIO_get_data(b);
	mc_sink_put(s, p, (size_t)len);
	return s->err ? -1 : len;
}

static long sinkbio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int sinkbio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

/* Write the whole source into w (the CMS streaming BIO); 0 or -1. */
static int pump(struct mc_source *src, BIO *w)
{
	char *buf = xmalloc(MC_IO_CHUNK);
	ssize_t n;
	int r = 0;
	while (r == 0 && (n = mc_source_read(src, buf, MC_IO_CHUNK)) != 0)
		if (n < 0 || BIO_write(w, buf, (int)n) != (int)n)
			r = -1;
	free(buf);
	return r;
}

/* CMS content is streamed: BIO_new_CMS gives a BIO that encrypts what is
 * written into it and emits BER (indefinite lengths) below it; the chain is
 * flushed (which writes the trailer) and taken down up to the base64 BIO. */
static int stream_cms(CMS_ContentInfo *cms, struct mc_source *src, BIO *b64)
{
	BIO *w = BIO_new_CMS(b64, cms);
	if (!w)
		return -1;
	int r = pump(src, w);
	if (r == 0 && BIO_flush(w) != 1)
		r = -1;
	while (w && w != b64) {
		BIO *next = BIO_pop(w);
		BIO_free(w);
		w = next;
	}
	if (r == 0 && BIO_flush(b64) != 1)
		r = -1;
	return r;
}

int mc_smime_encrypt(const struct mc_key *k, bool gcm, struct mc_source *src, struct mc_sink *out,
		     char *why, size_t whylen)
{
	STACK_OF(X509) *rcpts = sk_X509_new_null();
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tern sink");
	BIO *sink = NULL, *b64 = NULL;
	CMS_ContentInfo *cms = NULL;
	int r = -1;
	if (!rcpts || !m || !sk_X509_push(rcpts, k->cert))
		goto done;
	BIO_meth_set_write(m, sinkbio_write);
	BIO_meth_set_ctrl(m, sinkbio_ctrl);
	BIO_meth_set_create(m, sinkbio_create);
	if (!(sink = BIO_new(m)) || !(b64 = BIO_new(BIO_f_base64())))
		goto done;
	BIO_set_data(sink, out);
	BIO_push(b64, sink);
	cms = CMS_encrypt(rcpts, NULL, gcm ? EVP_aes_256_gcm() : EVP_aes_256_cbc(),
			  CMS_BINARY | CMS_STREAM | CMS_PARTIAL);
	if (cms)
		r = stream_cms(cms, src, b64);
done:
	if (r < 0)
		ssl_why(why, whylen, "S/MIME encryption failed");
	CMS_ContentInfo_free(cms);
	BIO_free(b64);
	BIO_free(sink);
	BIO_meth_free(m);
	sk_X509_free(rcpts);
	return r;
}
