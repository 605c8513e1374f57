/* testkeys.h — keys made at test time for the encryption-at-rest tests: an
 * X.509 certificate with chosen validity, address and key usage (OpenSSL),
 * and an OpenPGP key pair (librnp), each with its private key for decrypting. */
#ifndef TERN_TESTKEYS_H
#define TERN_TESTKEYS_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <rnp/rnp.h>
#include <stddef.h>

/* A self-signed RSA-2048 certificate valid from now + from_s to now + to_s
 * (seconds), naming email (subject emailAddress and SAN; NULL: none), with
 * keyUsage key_usage (e.g. "keyEncipherment"; NULL: no extension). Its PEM
 * (malloc'd) in *pem, its private key in *key. */
X509 *testkey_cert(EVP_PKEY **key, char **pem, const char *email, long from_s, long to_s,
		   const char *key_usage);

/* An Ed25519 + Curve25519 OpenPGP key for uid in a new keyring *ffi (which
 * keeps the secret part); the armoured public key, malloc'd. */
char *testkey_pgp(rnp_ffi_t *ffi, const char *uid);

/* Decrypt: the plaintext of an S/MIME message in mem (malloc'd, *len), or NULL. */
char *testkey_smime_decrypt(const char *msg, size_t msglen, X509 *cert, EVP_PKEY *key, size_t *len);
/* Decrypt the armoured OpenPGP message in mem with a key in ffi. */
char *testkey_pgp_decrypt(rnp_ffi_t ffi, const char *armour, size_t alen, size_t *len);

#endif
