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

/* ---- verification ---- */

enum dkim_result { DKIM_NONE, DKIM_PASS, DKIM_FAIL, DKIM_TEMPERROR, DKIM_PERMERROR, DKIM_NEUTRAL };

#define DKIM_MAX_SIGS 8
struct dkim_sig_result {
	enum dkim_result result;
	char domain[256];	/* d= */
	char selector[64];	/* s= */
	char b[16];		/* first bytes of b= (RFC 8601 header.b) */
	char reason[96];
};

struct dkim_verdict {
	int nsigs;		/* 0: no signature (result none) */
	struct dkim_sig_result sigs[DKIM_MAX_SIGS];
};

/* Verify every DKIM-Signature of msg (CRLF line endings). Keys are fetched
 * through common/dns (TXT at SELECTOR._domainkey.DOMAIN). 0, or -1 when the
 * message could not be processed at all (why says so). */
int dkim_verify_msg(const char *msg, size_t len, struct dkim_verdict *out, char *why, size_t whylen);

/* The same, streaming: feed the message in pieces as it arrives. */
struct dkim_verifier;
struct dkim_verifier *dkim_verifier_new(void);
void dkim_verifier_feed(struct dkim_verifier *v, const char *p, size_t n);
/* Ends the message, fills out and frees v. */
void dkim_verifier_finish(struct dkim_verifier *v, struct dkim_verdict *out);
const char *dkim_result_str(enum dkim_result r);

#endif
