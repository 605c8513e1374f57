/* mailcrypt.h — encryption at rest (PRODUCT.md 6, issue 14): a user's S/MIME
 * certificate or OpenPGP public key, and the sealing of a message to it.
 *
 * The key lives in the user's Maildir as MAIL/DOMAIN/LOCALPART/tern-pubkey
 * (written by `mailctl user key`, read by the local delivery agent and by the
 * IMAP session for encrypt_append). Only public material is ever accepted.
 *
 * A sealed message is a standard one a mail client opens with the private
 * key: S/MIME (RFC 8551: application/pkcs7-mime, CMS EnvelopedData, or
 * AuthEnvelopedData with AES-GCM) or PGP/MIME (RFC 3156: multipart/encrypted).
 * Header protection follows RFC 9788: the whole original header travels
 * inside (its Content-Type marked hp="cipher", HP-Outer fields recording what
 * stays outside); outside stay only our own Received field and the fields the
 * mail store and IMAP need (Date, From, To, Cc, Message-ID, In-Reply-To,
 * References), with Subject replaced by "[...]" unless the site keeps it.
 * Plaintext is only ever read: the sealed form is written straight to the
 * output file, so no clear copy reaches the disk. */
#ifndef TERN_COMMON_MAILCRYPT_H
#define TERN_COMMON_MAILCRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MC_KEY_FILE "tern-pubkey"	/* in the root of the user's Maildir */
#define MC_KEY_MAX (256 * 1024)		/* a key file larger than this is refused */
#define MC_SUBJECT_PLACEHOLDER "[...]"	/* RFC 9788's obscured Subject */

enum mc_kind { MC_SMIME = 1, MC_OPENPGP = 2 };

struct mc_key;		/* a parsed certificate or public key */

struct mc_keyinfo {
	enum mc_kind kind;
	char fingerprint[160];	/* S/MIME: SHA-256 of the DER; OpenPGP: the key's fingerprint */
	int64_t expires;	/* seconds since the epoch; 0 = never */
	char addresses[1024];	/* the e-mail addresses it names, ", "-separated */
};

/* Parse the text of a key file: a PEM X.509 certificate (the first one) or
 * an ASCII-armoured OpenPGP public key (exactly one primary key). Private
 * keys are refused. 0 with *out, or -1 with why. */
int mc_key_parse(const char *text, size_t len, struct mc_key **out, char *why, size_t whylen);
void mc_key_free(struct mc_key *k);
void mc_key_info(const struct mc_key *k, struct mc_keyinfo *info);
/* Can mail be encrypted to it at time now (validity period, revocation,
 * encryption usage)? 0, or -1 with why. */
int mc_key_usable(const struct mc_key *k, time_t now, char *why, size_t whylen);
/* 1: the key names address (case-insensitive); 0: it names other addresses
 * only; -1: it names no address at all. */
int mc_key_names(const struct mc_key *k, const char *address);
/* The public part alone, re-encoded (PEM or armour): what is stored. malloc'd. */
char *mc_key_export(const struct mc_key *k, size_t *len);

/* The key of the Maildir at maildir (its root). 1 with *out; 0 when the user
 * has none (no file); -1 with why when the file exists but cannot be read
 * or parsed. */
int mc_key_load(const char *maildir, struct mc_key **out, char *why, size_t whylen);
/* The same through a small per-thread cache of parsed keys, keyed by the key
 * file's identity (device, inode, size, modification and change times), so
 * a key is parsed again only when its file changes (parsing costs as much as
 * sealing: OpenSSL's PEM decoders, librnp's signature checks). *out belongs
 * to the cache: valid in this thread until its next call; never freed by the
 * caller. */
int mc_key_load_cached(const char *maildir, const struct mc_key **out, char *why, size_t whylen);

struct mc_opts {
	bool keep_subject;	/* leave the real Subject outside too */
	bool smime_gcm;		/* S/MIME: AuthEnvelopedData with AES-256-GCM, else AES-256-CBC */
	bool clear_on_failure;	/* a key or encryption failure stores in clear (logged) */
};

/* Load what the libraries load on first use (OpenSSL's configuration file,
 * librnp's random generator: /dev/urandom), so a daemon can do it before it
 * confines itself (seccomp, Landlock). Botan's locked memory pool is turned
 * off here (mailcrypt.c says why). */
void mc_preload(void);

struct cfg;
/* The site's choices from tern.conf (encrypt_keep_subject, encrypt_smime_cipher,
 * encrypt_failure). */
void mc_opts_load(const struct cfg *tern_conf, struct mc_opts *o);

/* What mc_seal wrote: bytes stored (LF line ends, the Maildir form) and the
 * number of LFs in them (so bytes + lfs is the CRLF size). */
struct mc_counts {
	uint64_t bytes, lfs;
};

enum {
	MC_FELL_BACK = 2,	/* mc_seal_policy: encryption failed, the site stores in clear */
	MC_SEALED = 1,		/* the sealed message was written to out */
	MC_AS_IS = 0,		/* it arrived encrypted already: nothing written, store it as it is */
	MC_ERR_IO = -1,		/* reading in or writing out failed (errno set) */
	MC_ERR_CRYPTO = -2,	/* the library refused (why says what) */
};

/* Read the message in [0, size) of in_fd (CRLF or LF line ends), and write its
 * sealed, stored form (LF line ends) at the current offset of out_fd. */
int mc_seal(const struct mc_key *k, const struct mc_opts *o, int in_fd, uint64_t size,
	    int out_fd, struct mc_counts *c, char *why, size_t whylen);

/* ---- the site's policy (mailcrypt_policy.c), one for every path that
 * stores a user's message: local delivery, IMAP APPEND, JMAP Email/import ---- */

enum mc_plan {
	MC_PLAN_CLEAR,		/* no key: store the message as it comes */
	MC_PLAN_SEAL,		/* seal it to the key */
	MC_PLAN_CLEAR_FALLBACK,	/* the key cannot be used, encrypt_failure = deliver_clear:
				 * store as it comes and log why */
	MC_PLAN_REFUSE,		/* the key cannot be used, encrypt_failure = defer: why */
};

/* The plan after a key lookup: loaded and key as mc_key_load(_cached) gave
 * them (why holds its error when loaded is -1). */
enum mc_plan mc_plan_for(int loaded, const struct mc_key *key, const struct mc_opts *o, time_t now,
			 char *why, size_t whylen);
/* Lookup and plan for the Maildir at maildir in one call (what JMAP needs):
 * *key (the caller frees it) is set for MC_PLAN_SEAL only. */
enum mc_plan mc_plan_maildir(const char *maildir, const struct mc_opts *o, struct mc_key **key,
			     char *why, size_t whylen);
/* mc_seal under the policy: when encryption fails and the site stores in
 * clear, what was written from out_start on is taken back and the result is
 * MC_FELL_BACK (why says why: log it, then store the message as it came). */
int mc_seal_policy(const struct mc_key *k, const struct mc_opts *o, int in_fd, uint64_t size,
		   int out_fd, uint64_t out_start, struct mc_counts *c, char *why, size_t whylen);

#endif
