/* mailcrypt_pgp.c — OpenPGP through librnp (docs/ARCHITECTURE.md says why
 * librnp): the public key (one primary key with its subkeys, held in a
 * keyring of its own in memory) and streaming encryption into ASCII armour
 * (RFC 4880: AES-256, no AEAD so every OpenPGP client reads it). */
#include "common/mailcrypt_int.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void rnp_why(char *why, size_t whylen, const char *what, rnp_result_t r)
{
	snprintf(why, whylen, "%s: %s", what, rnp_result_to_string(r));
}

/* The one primary key of the keyring, or NULL with why. */
static rnp_key_handle_t only_primary(rnp_ffi_t ffi, char *why, size_t whylen)
{
	rnp_identifier_iterator_t it = NULL;
	rnp_key_handle_t found = NULL;
	unsigned primaries = 0, secret = 0;
	const char *fpr;
	if (rnp_identifier_iterator_create(ffi, &it, "fingerprint") != RNP_SUCCESS)
		return NULL;
	while (rnp_identifier_iterator_next(it, &fpr) == RNP_SUCCESS && fpr) {
		rnp_key_handle_t key = NULL;
		bool primary = false, sec = false;
		if (rnp_locate_key(ffi, "fingerprint", fpr, &key) != RNP_SUCCESS || !key)
			continue;
		rnp_key_is_primary(key, &primary);
		rnp_key_have_secret(key, &sec);
		secret += sec;
		if (primary && primaries++ == 0) {
			found = key;
			continue;
		}
		rnp_key_handle_destroy(key);
	}
	rnp_identifier_iterator_destroy(it);
	if (secret || primaries != 1) {
		if (secret)
			snprintf(why, whylen, "this holds secret key material: give the public key only");
		else
			snprintf(why, whylen, primaries ? "the file holds %u keys: give one" :
				 "the file holds no primary key", primaries);
		rnp_key_handle_destroy(found);
		return NULL;
	}
	return found;
}

int mc_pgp_parse(const char *text, size_t len, struct mc_key *k, char *why, size_t whylen)
{
	rnp_input_t in = NULL;
	rnp_result_t r = rnp_ffi_create(&k->ffi, "GPG", "GPG");
	if (r == RNP_SUCCESS)
		r = rnp_input_from_memory(&in, (const uint8_t *)text, len, false);
	/* Secret keys are loaded too, only to be found and refused. */
	if (r == RNP_SUCCESS)
		r = rnp_import_keys(k->ffi, in, RNP_LOAD_SAVE_PUBLIC_KEYS | RNP_LOAD_SAVE_SECRET_KEYS, NULL);
	rnp_input_destroy(in);
	if (r != RNP_SUCCESS) {
		rnp_why(why, whylen, "the OpenPGP key does not parse", r);
		return -1;
	}
	k->pgp = only_primary(k->ffi, why, whylen);
	return k->pgp ? 0 : -1;
}

void mc_pgp_free(struct mc_key *k)
{
	rnp_key_handle_destroy(k->pgp);
	rnp_ffi_destroy(k->ffi);
	k->pgp = NULL;
	k->ffi = NULL;
}

/* The (sub)key new mail would be encrypted with, or NULL. */
static rnp_key_handle_t encryption_key(const struct mc_key *k)
{
	rnp_key_handle_t sub = NULL;
	if (rnp_key_get_default_key(k->pgp, "encrypt", 0, &sub) != RNP_SUCCESS)
		return NULL;
	return sub;
}

/* Until when mail can be encrypted to it: the earlier of the primary key's
 * and the encryption key's validity (0 = never expires). */
static int64_t valid_till(const struct mc_key *k)
{
	uint64_t p = 0, s = UINT64_MAX;
	rnp_key_valid_till64(k->pgp, &p);
	rnp_key_handle_t sub = encryption_key(k);
	if (sub) {
		rnp_key_valid_till64(sub, &s);
		rnp_key_handle_destroy(sub);
	}
	uint64_t t = p < s ? p : s;
	return t == UINT64_MAX ? 0 : (int64_t)t;
}

/* user@domain out of "Name <user@domain>" or a bare address. */
static bool uid_address(const char *uid, char *out, size_t size)
{
	const char *lt = strrchr(uid, '<'), *gt = lt ? strchr(lt, '>') : NULL;
	const char *a = lt && gt ? lt + 1 : uid;
	size_t n = lt && gt ? (size_t)(gt - lt - 1) : strlen(uid);
	if (!memchr(a, '@', n) || n >= size || memchr(a, ' ', n))
		return false;
	memcpy(out, a, n);
	out[n] = 0;
	return true;
}

typedef void (*uid_fn)(const char *address, void *arg);

static void each_address(const struct mc_key *k, uid_fn fn, void *arg)
{
	size_t n = 0;
	rnp_key_get_uid_count(k->pgp, &n);
	for (size_t i = 0; i < n; i++) {
		char *uid = NULL, addr[320];
		if (rnp_key_get_uid_at(k->pgp, i, &uid) == RNP_SUCCESS && uid &&
		    uid_address(uid, addr, sizeof addr))
			fn(addr, arg);
		rnp_buffer_destroy(uid);
	}
}

static void add_address(const char *address, void *arg)
{
	struct mc_keyinfo *info = arg;
	mc_addr_append(info->addresses, sizeof info->addresses, address);
}

void mc_pgp_info(const struct mc_key *k, struct mc_keyinfo *info)
{
	char *fpr = NULL;
	if (rnp_key_get_fprint(k->pgp, &fpr) == RNP_SUCCESS && fpr)
		strlcpy_t(info->fingerprint, fpr, sizeof info->fingerprint);
	rnp_buffer_destroy(fpr);
	info->expires = valid_till(k);
	each_address(k, add_address, info);
}

int mc_pgp_usable(const struct mc_key *k, time_t now, char *why, size_t whylen)
{
	bool revoked = false;
	rnp_key_is_revoked(k->pgp, &revoked);
	if (revoked) {
		snprintf(why, whylen, "the OpenPGP key is revoked");
		return -1;
	}
	rnp_key_handle_t sub = encryption_key(k);
	if (!sub) {
		snprintf(why, whylen, "the OpenPGP key has no valid key for encryption (expired, or "
			 "none with encryption usage)");
		return -1;
	}
	rnp_key_handle_destroy(sub);
	int64_t till = valid_till(k);
	if (till && till < (int64_t)now) {
		time_t t = (time_t)till;
		struct tm tm;
		char when[64] = "?";
		if (gmtime_r(&t, &tm))
			strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
		snprintf(why, whylen, "the OpenPGP key expired on %s", when);
		return -1;
	}
	return 0;
}

struct names_ctx {
	const char *address;
	int found;	/* -1 none, 0 others, 1 this one */
};

static void match_address(const char *address, void *arg)
{
	struct names_ctx *c = arg;
	if (!strcasecmp(address, c->address))
		c->found = 1;
	else if (c->found < 0)
		c->found = 0;
}

int mc_pgp_names(const struct mc_key *k, const char *address)
{
	struct names_ctx c = { address, -1 };
	each_address(k, match_address, &c);
	return c.found;
}

char *mc_pgp_export(const struct mc_key *k, size_t *len)
{
	rnp_output_t out = NULL;
	uint8_t *buf = NULL;
	char *text = NULL;
	if (rnp_output_to_memory(&out, 0) == RNP_SUCCESS &&
	    rnp_key_export(k->pgp, out, RNP_KEY_EXPORT_ARMORED | RNP_KEY_EXPORT_PUBLIC |
			   RNP_KEY_EXPORT_SUBKEYS) == RNP_SUCCESS &&
	    rnp_output_memory_get_buf(out, &buf, len, false) == RNP_SUCCESS)
		text = xstrndup((const char *)buf, *len);
	rnp_output_destroy(out);
	return text;
}

/* ---- streaming through callbacks ---- */

static bool src_read(void *ctx, void *buf, size_t len, size_t *got)
{
	if (len < 2) {		/* LF -> CRLF needs room for two */
		*got = 0;
		return len == 0;
	}
	ssize_t n = mc_source_read(ctx, buf, len);
	*got = n > 0 ? (size_t)n : 0;
	return n >= 0;
}

static bool sink_write(void *ctx, const void *buf, size_t len)
{
	struct mc_sink *s = ctx;
	mc_sink_put(s, buf, len);
	return s->err == 0;
}

int mc_pgp_encrypt(const struct mc_key *k, struct mc_source *src, struct mc_sink *out,
		   char *why, size_t whylen)
{
	rnp_input_t in = NULL;
	rnp_output_t o = NULL;
	rnp_op_encrypt_t op = NULL;
	rnp_result_t r = rnp_input_from_callback(&in, src_read, NULL, src);
	if (r == RNP_SUCCESS)
		r = rnp_output_to_callback(&o, sink_write, NULL, out);
	if (r == RNP_SUCCESS)
		r = rnp_op_encrypt_create(&op, k->ffi, in, o);
	if (r == RNP_SUCCESS)
		r = rnp_op_encrypt_add_recipient(op, k->pgp);
	if (r == RNP_SUCCESS)
		r = rnp_op_encrypt_set_armor(op, true);
	if (r == RNP_SUCCESS)
		r = rnp_op_encrypt_set_cipher(op, "AES256");
	if (r == RNP_SUCCESS)
		r = rnp_op_encrypt_set_aead(op, "None");
	if (r == RNP_SUCCESS)
		r = rnp_op_encrypt_execute(op);
	rnp_op_encrypt_destroy(op);
	rnp_output_destroy(o);
	rnp_input_destroy(in);
	if (r != RNP_SUCCESS) {
		rnp_why(why, whylen, "OpenPGP encryption failed", r);
		return -1;
	}
	return 0;
}
