/* testkeys.c — keys made at test time (testkeys.h). */
#include "tests/unit/testkeys.h"
#include "common/util.h"

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <rnp/rnp_err.h>
#include <string.h>

static void add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (e)
		X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
}

X509 *testkey_cert(EVP_PKEY **key, char **pem, const char *email, long from_s, long to_s,
		   const char *key_usage)
{
	*key = EVP_RSA_gen(2048);
	X509 *x = X509_new();
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), from_s);
	X509_gmtime_adj(X509_getm_notAfter(x), to_s);
	X509_set_pubkey(x, *key);
	X509_NAME *name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"test", -1, -1, 0);
	if (email) {
		X509_NAME_add_entry_by_txt(name, "emailAddress", MBSTRING_ASC,
					   (const unsigned char *)email, -1, -1, 0);
		char *san = xasprintf("email:%s", email);
		add_ext(x, NID_subject_alt_name, san);
		free(san);
	}
	X509_set_issuer_name(x, name);
	if (key_usage)
		add_ext(x, NID_key_usage, key_usage);
	X509_sign(x, *key, EVP_sha256());
	BIO *b = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(b, x);
	char *p;
	long n = BIO_get_mem_data(b, &p);
	*pem = xstrndup(p, (size_t)n);
	BIO_free(b);
	return x;
}

char *testkey_pgp(rnp_ffi_t *ffi, const char *uid)
{
	rnp_key_handle_t key = NULL;
	rnp_output_t out = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	char *text = NULL;
	if (rnp_ffi_create(ffi, "GPG", "GPG") == RNP_SUCCESS &&
	    rnp_generate_key_25519(*ffi, uid, NULL, &key) == RNP_SUCCESS &&
	    rnp_output_to_memory(&out, 0) == RNP_SUCCESS &&
	    rnp_key_export(key, out, RNP_KEY_EXPORT_ARMORED | RNP_KEY_EXPORT_PUBLIC |
			   RNP_KEY_EXPORT_SUBKEYS) == RNP_SUCCESS &&
	    rnp_output_memory_get_buf(out, &buf, &len, false) == RNP_SUCCESS)
		text = xstrndup((const char *)buf, len);
	rnp_output_destroy(out);
	rnp_key_handle_destroy(key);
	return text;
}

char *testkey_smime_decrypt(const char *msg, size_t msglen, X509 *cert, EVP_PKEY *key, size_t *len)
{
	BIO *in = BIO_new_mem_buf(msg, (int)msglen), *out = BIO_new(BIO_s_mem()), *cont = NULL;
	CMS_ContentInfo *cms = SMIME_read_CMS(in, &cont);
	char *text = NULL;
	if (cms && CMS_decrypt(cms, key, cert, NULL, out, CMS_BINARY)) {
		char *p;
		long n = BIO_get_mem_data(out, &p);
		text = xmalloc((size_t)n + 1);
		memcpy(text, p, (size_t)n);
		text[n] = 0;
		*len = (size_t)n;
	}
	CMS_ContentInfo_free(cms);
	BIO_free(cont);
	BIO_free(in);
	BIO_free(out);
	return text;
}

char *testkey_pgp_decrypt(rnp_ffi_t ffi, const char *armour, size_t alen, size_t *len)
{
	rnp_input_t in = NULL;
	rnp_output_t out = NULL;
	uint8_t *buf = NULL;
	char *text = NULL;
	if (rnp_input_from_memory(&in, (const uint8_t *)armour, alen, false) == RNP_SUCCESS &&
	    rnp_output_to_memory(&out, 0) == RNP_SUCCESS && rnp_decrypt(ffi, in, out) == RNP_SUCCESS &&
	    rnp_output_memory_get_buf(out, &buf, len, false) == RNP_SUCCESS) {
		text = xmalloc(*len + 1);
		memcpy(text, buf, *len);
		text[*len] = 0;
	}
	rnp_input_destroy(in);
	rnp_output_destroy(out);
	return text;
}
