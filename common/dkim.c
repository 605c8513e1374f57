/* dkim.c — OpenDKIM signing and OpenSSL key generation. */
#include "common/dkim.h"
#include "common/util.h"

#include <opendkim/dkim.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const dkim_signed_headers[] = {
	"from", "reply-to", "subject", "date", "to", "cc", "message-id", "in-reply-to",
	"references", "mime-version", "content-type", "content-transfer-encoding",
	"list-id", "list-unsubscribe", "list-unsubscribe-post", NULL,
};

static const char *const oversigned[] = { "from", NULL };

static char *b64(const unsigned char *p, size_t n)
{
	char *out = xmalloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)out, p, (int)n);
	return out;
}

static char *pem_of(EVP_PKEY *k)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	if (bio && PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL)) {
		long n = BIO_get_mem_data(bio, &data);
		out = xstrndup(data, (size_t)n);
	}
	BIO_free(bio);
	return out;
}

static char *public_b64(EVP_PKEY *k, enum dkim_alg alg)
{
	if (alg == DKIM_ALG_ED25519) {
		/* RFC 8463: p= is the raw 32-byte public key. */
		unsigned char raw[32];
		size_t n = sizeof raw;
		if (EVP_PKEY_get_raw_public_key(k, raw, &n) != 1)
			return NULL;
		return b64(raw, n);
	}
	unsigned char *der = NULL;
	int n = i2d_PUBKEY(k, &der);	/* SubjectPublicKeyInfo */
	if (n <= 0)
		return NULL;
	char *s = b64(der, (size_t)n);
	OPENSSL_free(der);
	return s;
}

int dkim_keygen(enum dkim_alg alg, char **pem, char **txt, char *why, size_t whylen)
{
	EVP_PKEY *k = alg == DKIM_ALG_ED25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519")
					      : EVP_RSA_gen(2048);
	if (!k) {
		snprintf(why, whylen, "key generation failed");
		return -1;
	}
	char *pub = public_b64(k, alg);
	*pem = pem_of(k);
	EVP_PKEY_free(k);
	if (!pub || !*pem) {
		free(pub);
		free(*pem);
		snprintf(why, whylen, "key encoding failed");
		return -1;
	}
	*txt = xasprintf("v=DKIM1; k=%s; p=%s", alg == DKIM_ALG_ED25519 ? "ed25519" : "rsa", pub);
	free(pub);
	return 0;
}

int dkim_key_load(const char *path, const char *domain, const char *selector,
		  struct dkim_key *key, char *why, size_t whylen)
{
	memset(key, 0, sizeof *key);
	FILE *f = fopen(path, "re");
	if (!f) {
		snprintf(why, whylen, "cannot read DKIM key %s", path);
		return -1;
	}
	EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (!k) {
		snprintf(why, whylen, "%s is not a PEM private key", path);
		return -1;
	}
	int id = EVP_PKEY_get_base_id(k);
	if (id != EVP_PKEY_RSA && id != EVP_PKEY_ED25519) {
		EVP_PKEY_free(k);
		snprintf(why, whylen, "%s: DKIM keys must be RSA or Ed25519", path);
		return -1;
	}
	key->alg = id == EVP_PKEY_ED25519 ? DKIM_ALG_ED25519 : DKIM_ALG_RSA;
	key->pem = pem_of(k);
	EVP_PKEY_free(k);
	key->domain = xstrdup(domain);
	key->selector = xstrdup(selector);
	return 0;
}

void dkim_key_free(struct dkim_key *key)
{
	if (key->pem)
		OPENSSL_cleanse(key->pem, strlen(key->pem));
	free(key->pem);
	free(key->domain);
	free(key->selector);
	memset(key, 0, sizeof *key);
}

static DKIM_LIB *lib;
static pthread_once_t lib_once = PTHREAD_ONCE_INIT;

static void lib_init(void)
{
	lib = dkim_init(NULL, NULL);
	if (lib) {
			unsigned int flags = DKIM_LIBFLAGS_FIXCRLF;
			dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags, sizeof flags);
			dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_OVERSIGNHDRS,
				     (void *)oversigned, sizeof(char **));
	}
}

/* One library handle per process, made once even when threads race to it. */
static DKIM_LIB *lib_handle(void)
{
	pthread_once(&lib_once, lib_init);
	return lib;
}

int dkim_sign_msg(const struct dkim_key *key, const char *msg, size_t len,
		  const char *const *headers, char **sig, char *why, size_t whylen)
{
	DKIM_LIB *lib = lib_handle();
	DKIM_STAT st;
	if (!lib) {
		snprintf(why, whylen, "OpenDKIM initialisation failed");
		return -1;
	}
	dkim_options(lib, DKIM_OP_SETOPT, DKIM_OPTS_SIGNHDRS,
		     (void *)(headers ? headers : dkim_signed_headers), sizeof(char **));
	DKIM *d = dkim_sign(lib, (const unsigned char *)"tern", NULL,
			    (dkim_sigkey_t)key->pem, (const unsigned char *)key->selector,
			    (const unsigned char *)key->domain, DKIM_CANON_RELAXED,
			    DKIM_CANON_RELAXED,
			    key->alg == DKIM_ALG_ED25519 ? DKIM_SIGN_ED25519SHA256 : DKIM_SIGN_RSASHA256,
			    -1, &st);
	if (!d) {
		snprintf(why, whylen, "dkim_sign: %s", dkim_getresultstr(st));
		return -1;
	}
	st = dkim_chunk(d, (unsigned char *)msg, len);
	if (st == DKIM_STAT_OK)
		st = dkim_chunk(d, NULL, 0);
	if (st == DKIM_STAT_OK)
		st = dkim_eom(d, NULL);
	unsigned char *hdr = NULL;
	size_t hlen = 0;
	if (st == DKIM_STAT_OK)
		st = dkim_getsighdr_d(d, strlen(DKIM_SIGNHEADER) + 2, &hdr, &hlen);
	if (st != DKIM_STAT_OK) {
		snprintf(why, whylen, "DKIM signing failed: %s", dkim_getresultstr(st));
		dkim_free(d);
		return -1;
	}
	/* OpenDKIM folds with bare LF + tab; mail on the wire uses CRLF. */
	size_t extra = 0;
	for (size_t i = 0; i < hlen; i++)
		extra += hdr[i] == '\n';
	char *out = xmalloc(strlen(DKIM_SIGNHEADER) + 2 + hlen + extra + 1), *o = out;
	o += sprintf(o, "%s: ", DKIM_SIGNHEADER);
	for (size_t i = 0; i < hlen; i++) {
		if (hdr[i] == '\n' && (i == 0 || hdr[i - 1] != '\r'))
			*o++ = '\r';
		*o++ = (char)hdr[i];
	}
	*o = '\0';
	dkim_free(d);
	*sig = out;
	return 0;
}
