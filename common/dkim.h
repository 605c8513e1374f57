/* dkim.h — DKIM keys and signing (RFC 6376; RSA-SHA256 and Ed25519-SHA256,
 * RFC 8463) through the OpenDKIM library; key generation through OpenSSL.
 * Used by `mailctl dkim keygen` and by the remote delivery agent, the only
 * process that reads private keys. */
#ifndef TERN_DKIM_H
#define TERN_DKIM_H

#include <stddef.h>

enum dkim_alg { DKIM_ALG_RSA = 0, DKIM_ALG_ED25519 = 1 };

struct dkim_key {
	char *domain;
	char *selector;
	enum dkim_alg alg;
	char *pem;		/* private key, PEM */
};

/* Generate a key: PEM private key and the DNS TXT value ("v=DKIM1; k=...; p=...").
 * Both malloc'd. 0 or -1 with why. */
int dkim_keygen(enum dkim_alg alg, char **pem, char **txt, char *why, size_t whylen);
/* Load a PEM private key file and detect its algorithm. 0 or -1 with why. */
int dkim_key_load(const char *path, const char *domain, const char *selector,
		  struct dkim_key *key, char *why, size_t whylen);
void dkim_key_free(struct dkim_key *key);

/* The header fields we sign (relaxed/relaxed), as a major provider would: From
 * is over-signed so another From cannot be added later. */
extern const char *const dkim_signed_headers[];

/* Sign msg (complete message, CRLF line endings). On success *sig is the whole
 * header field "DKIM-Signature: v=1; ..." folded with CRLF + tab, without the
 * final CRLF, malloc'd. headers: NULL for dkim_signed_headers. */
int dkim_sign_msg(const struct dkim_key *key, const char *msg, size_t len,
		  const char *const *headers, char **sig, char *why, size_t whylen);

#endif
