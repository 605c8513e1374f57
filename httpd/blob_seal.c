/* blob_seal.c — uploads sealed with a key held only in memory (see
 * blob_seal.h). */
#include "httpd/blob_seal.h"
#include "httpd/blob.h"
#include "common/log.h"
#include "common/mailcrypt.h"
#include "common/util.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_LEN 32
#define NONCE_LEN 12
#define TAG_LEN 16

static unsigned char run_key[KEY_LEN], user_key[KEY_LEN];
static time_t run_since;

void blob_seal_init(void)
{
	if (getrandom(run_key, sizeof run_key, 0) != (ssize_t)sizeof run_key)
		fatal_errno("cannot draw the upload sealing key");
	run_since = time(NULL);
}

/* HMAC-SHA-256 under key, one shot or by chunks (ctx from mac_new). */
static EVP_MAC_CTX *mac_new(const unsigned char *key)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	OSSL_PARAM p[] = { OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
			   OSSL_PARAM_construct_end() };
	EVP_MAC_free(mac);
	if (ctx && !EVP_MAC_init(ctx, key, KEY_LEN, p)) {
		EVP_MAC_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

void blob_seal_enter(const char *user)
{
	EVP_MAC_CTX *ctx = mac_new(run_key);
	size_t n = 0;
	if (!ctx || !EVP_MAC_update(ctx, (const unsigned char *)user, strlen(user)) ||
	    !EVP_MAC_final(ctx, user_key, &n, sizeof user_key) || n != sizeof user_key)
		fatal("cannot derive the upload sealing key");
	EVP_MAC_CTX_free(ctx);
	OPENSSL_cleanse(run_key, sizeof run_key);
}

time_t blob_seal_since(void)
{
	return run_since;
}

bool blob_seal_wanted(void)
{
	struct stat st;
	return lstat(MC_KEY_FILE, &st) == 0;
}

static int mac_chunk(void *ctx, const unsigned char *p, size_t n)
{
	return EVP_MAC_update(ctx, p, n) ? 0 : -1;
}

bool blob_seal_id(const void *inl, int fd, size_t n, char out[42])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	size_t mdlen = 0;
	EVP_MAC_CTX *ctx = mac_new(user_key);
	bool ok = ctx && blob_chunks(inl, fd, n, mac_chunk, ctx) == 0 &&
		  EVP_MAC_final(ctx, md, &mdlen, sizeof md) && mdlen >= 20;
	EVP_MAC_CTX_free(ctx);
	out[0] = BLOB_SEALED;
	for (int i = 0; ok && i < 20; i++)
		snprintf(out + 1 + 2 * i, 3, "%02x", md[i]);
	return ok;
}

/* AES-256-GCM with the user's key, the blob id as associated data. */
static EVP_CIPHER_CTX *gcm_new(bool enc, const unsigned char *nonce, const char *blob_id)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n;
	if (c && EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, user_key, nonce, enc) &&
	    EVP_CipherUpdate(c, NULL, &n, (const unsigned char *)blob_id, (int)strlen(blob_id)))
		return c;
	EVP_CIPHER_CTX_free(c);
	return NULL;
}

struct crypt_out {
	EVP_CIPHER_CTX *c;
	int out;
	unsigned char buf[65536 + 32];
};

/* Through the cipher to o->out, at most 64 kB at a time. */
static int crypt_chunk(void *ctx, const unsigned char *p, size_t n)
{
	struct crypt_out *o = ctx;
	while (n) {
		int step = n > 65536 ? 65536 : (int)n, got = 0;
		if (!EVP_CipherUpdate(o->c, o->buf, &got, p, step) ||
		    write_all(o->out, o->buf, (size_t)got) < 0)
			return -1;
		p += step;
		n -= (size_t)step;
	}
	return 0;
}

int blob_seal_write(const void *inl, int fd, size_t n, const char *blob_id, int out)
{
	unsigned char nonce[NONCE_LEN], tag[TAG_LEN];
	if (getrandom(nonce, sizeof nonce, 0) != (ssize_t)sizeof nonce)
		return -1;
	struct crypt_out *o = xmalloc(sizeof *o);
	o->c = gcm_new(true, nonce, blob_id);
	o->out = out;
	int got = 0;
	int r = o->c && write_all(out, nonce, sizeof nonce) == 0 &&
		blob_chunks(inl, fd, n, crypt_chunk, o) == 0 &&
		EVP_CipherFinal_ex(o->c, o->buf, &got) &&
		EVP_CIPHER_CTX_ctrl(o->c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) &&
		write_all(out, tag, sizeof tag) == 0 ? 0 : -1;
	EVP_CIPHER_CTX_free(o->c);
	free(o);
	return r;
}

int blob_seal_open(int in, size_t size, const char *blob_id, int *fd, size_t *len)
{
	unsigned char nonce[NONCE_LEN], tag[TAG_LEN];
	if (size < NONCE_LEN + TAG_LEN || pread(in, nonce, NONCE_LEN, 0) != NONCE_LEN ||
	    pread(in, tag, TAG_LEN, (off_t)(size - TAG_LEN)) != TAG_LEN)
		return -1;
	struct crypt_out *o = xmalloc(sizeof *o);
	o->c = gcm_new(false, nonce, blob_id);
	o->out = memfd_create("upload", MFD_CLOEXEC);
	int got = 0;
	/* the clear bytes go to memory only, and are given out only once the
	 * tag has proved them */
	bool ok = o->c && o->out >= 0 &&
		  blob_chunks_at(in, NONCE_LEN, size - NONCE_LEN - TAG_LEN, crypt_chunk, o) == 0 &&
		  EVP_CIPHER_CTX_ctrl(o->c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag) &&
		  EVP_CipherFinal_ex(o->c, o->buf, &got);
	EVP_CIPHER_CTX_free(o->c);
	if (!ok && o->out >= 0)
		close(o->out);
	*fd = ok ? o->out : -1;
	*len = size - NONCE_LEN - TAG_LEN;
	free(o);
	return ok ? 0 : -1;
}
