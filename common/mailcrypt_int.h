/* mailcrypt_int.h — the parts of mailcrypt shared by its files: the key object,
 * the plaintext source and stored-form sink the two back ends (OpenSSL CMS,
 * librnp) stream through, and the header protection of mailcrypt_hp.c. */
#ifndef TERN_COMMON_MAILCRYPT_INT_H
#define TERN_COMMON_MAILCRYPT_INT_H

#include "common/mailcrypt.h"

#include <openssl/x509.h>
#include <rnp/rnp.h>
#include <rnp/rnp_err.h>
#include <sys/types.h>

struct mc_key {
	enum mc_kind kind;
	X509 *cert;		/* MC_SMIME */
	rnp_ffi_t ffi;		/* MC_OPENPGP: a keyring holding this key alone */
	rnp_key_handle_t pgp;	/* its primary key */
};

#define MC_IO_CHUNK 65536

/* Where the stored form goes: CRLF becomes LF (the Maildir form), bytes and
 * LFs are counted, writes are buffered. The first write error sticks. */
struct mc_sink {
	int fd;
	int err;		/* errno of the first failed write, or 0 */
	bool held_cr;
	char last;		/* the last byte stored */
	size_t n;
	uint64_t bytes, lfs;
	char buf[MC_IO_CHUNK];
};

void mc_sink_init(struct mc_sink *s, int fd);
void mc_sink_put(struct mc_sink *s, const void *p, size_t len);
void mc_sink_puts(struct mc_sink *s, const char *str);
/* Write out what is buffered: 0, or -1 with s->err. */
int mc_sink_flush(struct mc_sink *s);

/* The inner entity the back ends encrypt, in canonical CRLF form: the
 * protected header (memory), then the body read from fd with bare LFs made
 * CRLF. */
struct mc_source {
	const char *head;
	size_t headlen, headpos;
	int fd;
	uint64_t off, end;
	bool prev_cr;
	int err;		/* errno of a failed read, or 0 */
	size_t rlen, rpos;
	char rbuf[MC_IO_CHUNK];
};

/* Up to len (>= 2) bytes of the entity: the count, 0 at its end, -1 on a read error. */
ssize_t mc_source_read(struct mc_source *s, char *buf, size_t len);

/* Header protection (mailcrypt_hp.c). buf holds the start of the message
 * (all of it when whole). */
struct mc_header {
	char *outer;		/* clear fields for the outside, LF line ends */
	size_t outerlen;
	char *inner;		/* the protected header for the inside, CRLF, with its empty line */
	size_t innerlen;
	uint64_t body_off;	/* where what follows the inner header starts in the message */
	bool encrypted;		/* the message arrived encrypted (S/MIME enveloped, PGP/MIME) */
};

void mc_header_build(const char *buf, size_t len, bool whole, bool keep_subject, struct mc_header *h);
void mc_header_free(struct mc_header *h);

/* Back ends: parse, describe and encrypt (mailcrypt_smime.c, mailcrypt_pgp.c). */
int mc_smime_parse(const char *text, size_t len, struct mc_key *k, char *why, size_t whylen);
void mc_smime_info(const struct mc_key *k, struct mc_keyinfo *info);
int mc_smime_usable(const struct mc_key *k, time_t now, char *why, size_t whylen);
int mc_smime_names(const struct mc_key *k, const char *address);
char *mc_smime_export(const struct mc_key *k, size_t *len);
int mc_smime_encrypt(const struct mc_key *k, bool gcm, struct mc_source *src, struct mc_sink *out,
		     char *why, size_t whylen);

int mc_pgp_parse(const char *text, size_t len, struct mc_key *k, char *why, size_t whylen);
void mc_pgp_info(const struct mc_key *k, struct mc_keyinfo *info);
int mc_pgp_usable(const struct mc_key *k, time_t now, char *why, size_t whylen);
int mc_pgp_names(const struct mc_key *k, const char *address);
char *mc_pgp_export(const struct mc_key *k, size_t *len);
int mc_pgp_encrypt(const struct mc_key *k, struct mc_source *src, struct mc_sink *out,
		   char *why, size_t whylen);
void mc_pgp_free(struct mc_key *k);

/* Append address to a ", "-separated list in buf (bounded; silently cut). */
void mc_addr_append(char *buf, size_t size, const char *address);

#endif
