/* Unit tests: encryption at rest (common/mailcrypt.h): header protection,
 * key checks (private keys, validity, usage, addresses), and sealing that
 * the private key opens again to the original message. */
#include "common/mailcrypt.h"
#include "common/mailcrypt_int.h"
#include "common/util.h"
#include "tests/unit/check.h"
#include "tests/unit/testkeys.h"

#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char msg[] =
	"Received: from a by mx.example.test; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
	"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
	"From: Ann <ann@example.net>\r\n"
	"To: bob@example.test,\r\n\tcat@example.test\r\n"
	"Subject: the secret\r\n plan\r\n"
	"X-Other: hidden\r\n"
	"Message-ID: <1@example.net>\r\n"
	"Content-Type: text/plain;\r\n charset=utf-8\r\n"
	"\r\n"
	"body TOKEN \xc3\xa9\r\n";

static const char want_outer[] =
	"Received: from a by mx.example.test; Mon, 1 Jan 2024 00:00:00 +0000\n"
	"Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
	"From: Ann <ann@example.net>\n"
	"To: bob@example.test,\n\tcat@example.test\n"
	"Subject: [...]\n"
	"Message-ID: <1@example.net>\n";

static const char want_inner[] =
	"Received: from a by mx.example.test; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
	"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
	"From: Ann <ann@example.net>\r\n"
	"To: bob@example.test,\r\n\tcat@example.test\r\n"
	"Subject: the secret\r\n plan\r\n"
	"X-Other: hidden\r\n"
	"Message-ID: <1@example.net>\r\n"
	"Content-Type: text/plain;\r\n charset=utf-8; hp=\"cipher\"\r\n"
	"HP-Outer: Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n"
	"HP-Outer: From: Ann <ann@example.net>\r\n"
	"HP-Outer: To: bob@example.test,\r\n\tcat@example.test\r\n"
	"HP-Outer: Subject: [...]\r\n"
	"HP-Outer: Message-ID: <1@example.net>\r\n"
	"\r\n";

static bool built(const char *m, bool whole, bool keep, const char *outer, const char *inner)
{
	struct mc_header h;
	mc_header_build(m, strlen(m), whole, keep, &h);
	bool ok = !strcmp(h.outer, outer) && !strcmp(h.inner, inner);
	if (!ok)
		fprintf(stderr, "outer:\n%s\ninner:\n%s\n", h.outer, h.inner);
	mc_header_free(&h);
	return ok;
}

static bool encrypted(const char *type)
{
	char *m = xasprintf("From: a@b\r\nContent-Type: %s\r\n\r\nx\r\n", type);
	struct mc_header h;
	mc_header_build(m, strlen(m), true, false, &h);
	bool e = h.encrypted;
	mc_header_free(&h);
	free(m);
	return e;
}

static void test_header(void)
{
	struct mc_header h;
	mc_header_build(msg, strlen(msg), true, false, &h);
	CHECK_STR(h.outer, want_outer);
	CHECK_STR(h.inner, want_inner);
	CHECK(h.body_off == strlen(msg) - strlen("body TOKEN \xc3\xa9\r\n"));
	CHECK(!h.encrypted);
	mc_header_free(&h);

	/* The site keeps the subject: outside as it is, recorded so inside. */
	CHECK(built("Subject: s\r\nFrom: a@b\r\n\r\nx\r\n", true, true, "Subject: s\nFrom: a@b\n",
		    "Subject: s\r\nFrom: a@b\r\nHP-Outer: Subject: s\r\nHP-Outer: From: a@b\r\n"
		    "Content-Type: text/plain; charset=us-ascii; hp=\"cipher\"\r\n\r\n"));
	/* LF input (an APPEND in Maildir form): CRLF inside, LF outside; an hp
	 * parameter already there is not added twice; a Received that is not
	 * first stays inside. */
	CHECK(built("From: a@b\nReceived: x\nContent-Type: text/plain; hp=clear\n\nx\n", true, false,
		    "From: a@b\n", "From: a@b\r\nReceived: x\r\nContent-Type: text/plain; hp=clear\r\n"
		    "HP-Outer: From: a@b\r\n\r\n"));
	/* A header that does not end in the bytes held: no protection. */
	CHECK(built("From: a@b\r\nSubject: s\r\nX-Long: ", false, false, "Subject: [...]\n", ""));
	/* A message that is all header. */
	mc_header_build("Subject: s", 10, true, false, &h);
	CHECK(h.body_off == 10);
	CHECK_STR(h.inner, "Subject: s\r\nHP-Outer: Subject: [...]\r\n"
		  "Content-Type: text/plain; charset=us-ascii; hp=\"cipher\"\r\n\r\n");
	mc_header_free(&h);

	CHECK(encrypted("application/pkcs7-mime; smime-type=enveloped-data; name=smime.p7m"));
	CHECK(encrypted("Application/PKCS7-MIME;\r\n smime-type=\"authEnveloped-data\""));
	CHECK(encrypted("application/x-pkcs7-mime; name=smime.p7m"));
	CHECK(encrypted("multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=b"));
	CHECK(!encrypted("application/pkcs7-mime; smime-type=signed-data"));
	CHECK(!encrypted("multipart/signed; protocol=\"application/pgp-signature\"; boundary=b"));
	CHECK(!encrypted("text/plain"));
}

static bool refused(const char *text, const char *why_has)
{
	struct mc_key *k = NULL;
	char why[512] = "";
	int r = mc_key_parse(text, strlen(text), &k, why, sizeof why);
	mc_key_free(k);
	if (r == 0 || !strstr(why, why_has))
		fprintf(stderr, "why: %s\n", why);
	return r < 0 && strstr(why, why_has);
}

static struct mc_key *parsed(const char *text)
{
	struct mc_key *k = NULL;
	char why[512];
	if (mc_key_parse(text, strlen(text), &k, why, sizeof why) < 0)
		fprintf(stderr, "parse: %s\n", why);
	return k;
}

static bool usable(const struct mc_key *k, const char *why_has)
{
	char why[512] = "";
	int r = mc_key_usable(k, time(NULL), why, sizeof why);
	return why_has ? r < 0 && strstr(why, why_has) : r == 0;
}

static void test_smime_keys(void)
{
	EVP_PKEY *pk;
	char *pem;
	X509 *x = testkey_cert(&pk, &pem, "Bob@Example.Test", -60, 86400, "keyEncipherment");
	struct mc_key *k = parsed(pem);
	CHECK(k && k->kind == MC_SMIME && usable(k, NULL));
	CHECK(k && mc_key_names(k, "bob@example.test") == 1);
	CHECK(k && mc_key_names(k, "eve@example.test") == 0);
	struct mc_keyinfo info;
	mc_key_info(k, &info);
	CHECK(strlen(info.fingerprint) == 32 * 3 - 1 && info.expires > time(NULL));
	CHECK_STR(info.addresses, "Bob@Example.Test");
	size_t n;
	char *pub = mc_key_export(k, &n);
	struct mc_key *k2 = pub ? parsed(pub) : NULL;	/* stored form parses back the same */
	struct mc_keyinfo info2;
	if (k2)
		mc_key_info(k2, &info2);
	CHECK(k2 && !strcmp(info.fingerprint, info2.fingerprint));
	mc_key_free(k2);
	free(pub);

	/* The private key given with or instead of the certificate. */
	BIO *b = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL);
	char *p;
	long len = BIO_get_mem_data(b, &p);
	char *both = xasprintf("%s%.*s", pem, (int)len, p);
	CHECK(refused(both, "private key"));
	CHECK(refused(both + strlen(pem), "private key"));
	BIO_free(b);
	free(both);
	CHECK(refused("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "does not parse"));
	CHECK(refused("hello", "not a PEM"));
	mc_key_free(k);
	X509_free(x);
	EVP_PKEY_free(pk);
	free(pem);

	/* Expired, not yet valid, signing only, no address. */
	struct { long from, to; const char *ku, *email, *why; } bad[] = {
		{ -86400 * 10, -86400, "keyEncipherment", "a@b.test", "expired" },
		{ 86400, 86400 * 10, "keyEncipherment", "a@b.test", "not valid yet" },
		{ -60, 86400, "digitalSignature", "a@b.test", "not for S/MIME encryption" },
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		x = testkey_cert(&pk, &pem, bad[i].email, bad[i].from, bad[i].to, bad[i].ku);
		k = parsed(pem);
		CHECK(k && usable(k, bad[i].why));
		mc_key_free(k);
		X509_free(x);
		EVP_PKEY_free(pk);
		free(pem);
	}
	x = testkey_cert(&pk, &pem, NULL, -60, 86400, NULL);
	k = parsed(pem);
	CHECK(k && usable(k, NULL) && mc_key_names(k, "a@b.test") == -1);
	mc_key_free(k);
	X509_free(x);
	EVP_PKEY_free(pk);
	free(pem);
}

static void test_pgp_keys(void)
{
	rnp_ffi_t ffi;
	char *pub = testkey_pgp(&ffi, "Bob <bob@example.test>");
	struct mc_key *k = pub ? parsed(pub) : NULL;
	CHECK(k && k->kind == MC_OPENPGP && usable(k, NULL));
	CHECK(k && mc_key_names(k, "BOB@example.test") == 1 && mc_key_names(k, "x@y.test") == 0);
	struct mc_keyinfo info;
	if (k)
		mc_key_info(k, &info);
	CHECK(k && strlen(info.fingerprint) == 40 && info.expires > time(NULL));	/* rnp: 2 years */
	mc_key_free(k);
	/* Two keys in one file. */
	rnp_ffi_t ffi2;
	char *pub2 = testkey_pgp(&ffi2, "Eve <eve@example.test>");
	char *two = xasprintf("%s%s", pub, pub2);
	CHECK(refused(two, "2 keys"));
	CHECK(refused("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nxx\n-----END PGP PRIVATE KEY BLOCK-----\n",
		      "private key"));
	CHECK(refused("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n",
		      "does not parse"));
	free(two);
	free(pub);
	free(pub2);
	rnp_ffi_destroy(ffi);
	rnp_ffi_destroy(ffi2);
}

static int memfd_with(const char *data, size_t len)
{
	int fd = memfd_create("t", MFD_CLOEXEC);
	if (fd >= 0 && write_all(fd, data, len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Seal msg with k; the stored bytes (malloc'd) and checks of the counts. */
static char *sealed(const struct mc_key *k, const struct mc_opts *o, const char *m, size_t *len, int *r)
{
	int in = memfd_with(m, strlen(m)), out = memfd_create("o", MFD_CLOEXEC);
	struct mc_counts c;
	char why[512] = "";
	*r = mc_seal(k, o, in, strlen(m), out, &c, why, sizeof why);
	struct stat st;
	fstat(out, &st);
	char *buf = xmalloc((size_t)st.st_size + 1);
	*len = (size_t)pread(out, buf, (size_t)st.st_size, 0);
	buf[*len] = 0;
	size_t lfs = 0;
	for (size_t i = 0; i < *len; i++)
		lfs += buf[i] == '\n';
	CHECK(*r != MC_SEALED || (c.bytes == *len && c.lfs == lfs && !memchr(buf, '\r', *len)));
	close(in);
	close(out);
	return buf;
}

static void test_seal(void)
{
	EVP_PKEY *pk;
	char *pem;
	X509 *x = testkey_cert(&pk, &pem, "bob@example.test", -60, 86400, "keyEncipherment");
	struct mc_key *k = parsed(pem);
	char *want = xasprintf("%s%s", want_inner, "body TOKEN \xc3\xa9\r\n");
	for (int gcm = 0; gcm < 2 && k; gcm++) {
		struct mc_opts o = { .smime_gcm = gcm };
		size_t len, plen = 0;
		int r;
		char *s = sealed(k, &o, msg, &len, &r);
		CHECK(r == MC_SEALED && !strncmp(s, want_outer, strlen(want_outer)));
		CHECK(strstr(s, gcm ? "smime-type=authEnveloped-data" : "smime-type=enveloped-data"));
		CHECK(!strstr(s, "TOKEN") && !strstr(s, "secret") && !strstr(s, "hidden"));
		char *plain = testkey_smime_decrypt(s, len, x, pk, &plen);
		CHECK(plain && plen == strlen(want) && !memcmp(plain, want, plen));
		free(plain);
		free(s);
	}
	/* Arrived encrypted: nothing written, stored as it came. */
	struct mc_opts o = { 0 };
	size_t len;
	int r;
	char *s = sealed(k, &o, "Content-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n\r\nMIIB\r\n",
			 &len, &r);
	CHECK(r == MC_AS_IS && len == 0);
	free(s);
	mc_key_free(k);
	X509_free(x);
	EVP_PKEY_free(pk);
	free(pem);

	/* OpenPGP, from a Maildir-form (LF) input: CRLF inside. */
	rnp_ffi_t ffi;
	char *pub = testkey_pgp(&ffi, "bob@example.test");
	k = pub ? parsed(pub) : NULL;
	char *lf = xstrdup(msg);
	size_t o2 = 0;
	for (size_t i = 0; lf[i]; i++)
		if (lf[i] != '\r')
			lf[o2++] = lf[i];
	lf[o2] = 0;
	s = k ? sealed(k, &o, lf, &len, &r) : NULL;
	CHECK(s && r == MC_SEALED && strstr(s, "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\""));
	CHECK(s && !strstr(s, "TOKEN") && !strstr(s, "secret"));
	const char *arm = s ? strstr(s, "-----BEGIN PGP MESSAGE-----") : NULL;
	size_t plen = 0;
	char *plain = arm ? testkey_pgp_decrypt(ffi, arm, len - (size_t)(arm - s), &plen) : NULL;
	CHECK(plain && plen == strlen(want) && !memcmp(plain, want, plen));
	CHECK(s && strstr(s, "-----END PGP MESSAGE-----\n--=_tern-pgp-mime--\n"));
	free(plain);
	free(s);
	free(lf);
	free(pub);
	mc_key_free(k);
	rnp_ffi_destroy(ffi);
	free(want);
}

/* The per-thread cache parses a key file once, and again when it changes. */
static void test_key_cache(void)
{
	const char *dir = check_tmpdir();
	char *path = xasprintf("%s/%s", dir, MC_KEY_FILE), *tmp = xasprintf("%s/new-key", dir);
	const struct mc_key *a = NULL, *b = NULL;
	char why[512] = "";
	unlink(path);
	CHECK(mc_key_load_cached(dir, &a, why, sizeof why) == 0 && !a);
	EVP_PKEY *pk[2];
	char *pem[2];
	X509 *x[2];
	struct mc_keyinfo ia, ib;
	for (int i = 0; i < 2; i++)
		x[i] = testkey_cert(&pk[i], &pem[i], "bob@example.test", -60, 86400, NULL);
	CHECK(check_put_file(dir, "", MC_KEY_FILE, pem[0]) == 0);
	CHECK(mc_key_load_cached(dir, &a, why, sizeof why) == 1 && a);
	CHECK(mc_key_load_cached(dir, &b, why, sizeof why) == 1 && a == b);	/* not parsed again */
	mc_key_info(a, &ia);
	CHECK(check_put_file(dir, "", "new-key", pem[1]) == 0 && rename(tmp, path) == 0);
	CHECK(mc_key_load_cached(dir, &b, why, sizeof why) == 1 && b);
	mc_key_info(b, &ib);
	CHECK(strcmp(ia.fingerprint, ib.fingerprint) != 0);	/* the new file's key */
	CHECK(check_put_file(dir, "", MC_KEY_FILE, "junk") == 0);
	CHECK(mc_key_load_cached(dir, &b, why, sizeof why) == -1 && !b && strstr(why, "not a PEM"));
	unlink(path);
	CHECK(mc_key_load_cached(dir, &b, why, sizeof why) == 0 && !b);
	for (int i = 0; i < 2; i++) {
		X509_free(x[i]);
		EVP_PKEY_free(pk[i]);
		free(pem[i]);
	}
	free(path);
	free(tmp);
}

/* A certificate for an Ed25519 key: it parses, but CMS cannot encrypt to it. */
static X509 *ed25519_cert(EVP_PKEY **pk)
{
	*pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	X509 *x = X509_new();
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, *pk);
	X509_sign(x, *pk, NULL);
	return x;
}

/* encrypt_failure in one place: the plan after a lookup, and mc_seal_policy
 * taking back a failed encryption under deliver_clear. */
static void test_policy(void)
{
	struct mc_opts defer = { 0 }, clear = { .clear_on_failure = true };
	char why[512] = "";
	time_t now = time(NULL);
	CHECK(mc_plan_for(0, NULL, &defer, now, why, sizeof why) == MC_PLAN_CLEAR);
	CHECK(mc_plan_for(-1, NULL, &defer, now, why, sizeof why) == MC_PLAN_REFUSE);
	CHECK(mc_plan_for(-1, NULL, &clear, now, why, sizeof why) == MC_PLAN_CLEAR_FALLBACK);
	EVP_PKEY *pk;
	char *pem;
	X509 *x = testkey_cert(&pk, &pem, "bob@example.test", -60, 3600, NULL);
	struct mc_key *k = parsed(pem);
	CHECK(mc_plan_for(1, k, &defer, now, why, sizeof why) == MC_PLAN_SEAL);
	CHECK(mc_plan_for(1, k, &defer, now + 7200, why, sizeof why) == MC_PLAN_REFUSE &&
	      strstr(why, "expired"));
	CHECK(mc_plan_for(1, k, &clear, now + 7200, why, sizeof why) == MC_PLAN_CLEAR_FALLBACK);
	mc_key_free(k);
	X509_free(x);
	EVP_PKEY_free(pk);
	free(pem);
	struct mc_key *got = NULL;
	char *dir = xasprintf("%s/nokey", check_tmpdir());
	CHECK(mkdir_p(dir, 0700) == 0);
	CHECK(mc_plan_maildir(dir, &defer, &got, why, sizeof why) == MC_PLAN_CLEAR && !got);
	free(dir);

	struct mc_key ed = { .kind = MC_SMIME };
	ed.cert = ed25519_cert(&pk);
	int in = memfd_with(msg, strlen(msg)), out = memfd_create("o", MFD_CLOEXEC);
	struct mc_counts c;
	CHECK(write_all(out, "Head\n", 5) == 0);
	CHECK(mc_seal_policy(&ed, &defer, in, strlen(msg), out, 5, &c, why, sizeof why) == MC_ERR_CRYPTO);
	CHECK(mc_seal_policy(&ed, &clear, in, strlen(msg), out, 5, &c, why, sizeof why) == MC_FELL_BACK);
	struct stat st;
	CHECK(fstat(out, &st) == 0 && st.st_size == 5 && lseek(out, 0, SEEK_CUR) == 5);
	close(in);
	close(out);
	X509_free(ed.cert);
	EVP_PKEY_free(pk);
}

int main(void)
{
	test_header();
	test_policy();
	test_key_cache();
	test_smime_keys();
	test_pgp_keys();
	test_seal();
	return check_summary("common_mailcrypt");
}
