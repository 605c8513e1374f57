/* mailcrypt.c — a user's key (format detection, the key file in the Maildir)
 * and the sealing of a message: header protection (mailcrypt_hp.c), then the
 * S/MIME or PGP/MIME wrapper around what the back end streams out. */
#include "common/mailcrypt_int.h"
#include "common/config.h"
#include "common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MC_HEADER_FIRST 65536		/* most headers fit: read this much first */
#define MC_HEADER_MAX (1024 * 1024)	/* a longer header goes inside unprotected */

/* ---- keys ---- */

static bool has(const char *text, size_t len, const char *needle)
{
	return memmem(text, len, needle, strlen(needle)) != NULL;
}

/* Private key material of any usual form: PEM ("... PRIVATE KEY-----" covers
 * PKCS#8, RSA, EC, encrypted and OpenSSH keys) or an OpenPGP secret key. */
static bool is_private(const char *text, size_t len)
{
	return has(text, len, "PRIVATE KEY-----") || has(text, len, "PRIVATE KEY BLOCK-----");
}

int mc_key_parse(const char *text, size_t len, struct mc_key **out, char *why, size_t whylen)
{
	*out = NULL;
	if (is_private(text, len)) {
		snprintf(why, whylen, "this is a private key: give the public certificate or public key "
			 "only (the private key must stay with its owner)");
		return -1;
	}
	struct mc_key *k = xcalloc(1, sizeof *k);
	int r;
	if (has(text, len, "-----BEGIN CERTIFICATE-----")) {
		k->kind = MC_SMIME;
		r = mc_smime_parse(text, len, k, why, whylen);
	} else if (has(text, len, "-----BEGIN PGP PUBLIC KEY BLOCK-----")) {
		k->kind = MC_OPENPGP;
		r = mc_pgp_parse(text, len, k, why, whylen);
	} else {
		snprintf(why, whylen, "not a PEM X.509 certificate (-----BEGIN CERTIFICATE-----) nor an "
			 "ASCII-armoured OpenPGP public key (-----BEGIN PGP PUBLIC KEY BLOCK-----)");
		r = -1;
	}
	if (r < 0) {
		mc_key_free(k);
		return -1;
	}
	*out = k;
	return 0;
}

void mc_key_free(struct mc_key *k)
{
	if (!k)
		return;
	X509_free(k->cert);
	mc_pgp_free(k);
	free(k);
}

void mc_key_info(const struct mc_key *k, struct mc_keyinfo *info)
{
	memset(info, 0, sizeof *info);
	info->kind = k->kind;
	if (k->kind == MC_SMIME)
		mc_smime_info(k, info);
	else
		mc_pgp_info(k, info);
}

int mc_key_usable(const struct mc_key *k, time_t now, char *why, size_t whylen)
{
	return k->kind == MC_SMIME ? mc_smime_usable(k, now, why, whylen)
				   : mc_pgp_usable(k, now, why, whylen);
}

int mc_key_names(const struct mc_key *k, const char *address)
{
	return k->kind == MC_SMIME ? mc_smime_names(k, address) : mc_pgp_names(k, address);
}

char *mc_key_export(const struct mc_key *k, size_t *len)
{
	return k->kind == MC_SMIME ? mc_smime_export(k, len) : mc_pgp_export(k, len);
}

void mc_addr_append(char *buf, size_t size, const char *address)
{
	size_t n = strlen(buf);
	if (n + strlen(address) + 3 >= size)
		return;
	snprintf(buf + n, size - n, "%s%s", n ? ", " : "", address);
}

/* Open MAILDIR/tern-pubkey: fd, or -1 (errno; ENOENT: no key). */
static int open_key(const char *maildir, char **path)
{
	*path = xasprintf("%s/%s", maildir, MC_KEY_FILE);
	return open(*path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
}

/* Parse the key file open on fd: 1 with *out, or -1 with why. */
static int read_key(int fd, const char *path, struct mc_key **out, char *why, size_t whylen)
{
	char *buf = xmalloc(MC_KEY_MAX + 1);
	ssize_t n = read(fd, buf, MC_KEY_MAX + 1);	/* key files are small: one read */
	int e = errno, r = -1;
	if (n < 0)
		snprintf(why, whylen, "cannot read %s: %s", path, strerror(e));
	else if (n > MC_KEY_MAX)
		snprintf(why, whylen, "%s is larger than %d bytes", path, MC_KEY_MAX);
	else
		r = mc_key_parse(buf, (size_t)n, out, why, whylen) < 0 ? -1 : 1;
	free(buf);
	return r;
}

static int no_key_file(const char *path, char *why, size_t whylen)
{
	int e = errno;
	if (e != ENOENT)
		snprintf(why, whylen, "cannot open %s: %s", path, strerror(e));
	return e == ENOENT ? 0 : -1;
}

int mc_key_load(const char *maildir, struct mc_key **out, char *why, size_t whylen)
{
	char *path;
	*out = NULL;
	int fd = open_key(maildir, &path);
	int r = fd < 0 ? no_key_file(path, why, whylen) : read_key(fd, path, out, why, whylen);
	if (fd >= 0)
		close(fd);
	free(path);
	return r;
}

/* ---- the per-thread cache ---- */

#define MC_CACHE_SLOTS 8

struct cached_key {
	struct mc_key *key;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
	uint64_t used;		/* for least-recently-used replacement */
};

struct key_cache {
	uint64_t clock;
	struct cached_key slot[MC_CACHE_SLOTS];
};

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_free(void *arg)
{
	struct key_cache *c = arg;
	for (size_t i = 0; i < MC_CACHE_SLOTS; i++)
		mc_key_free(c->slot[i].key);
	free(c);
}

static void cache_init(void)
{
	if (pthread_key_create(&cache_key, cache_free) != 0)
		fatal("pthread_key_create failed");
}

static bool same_file(const struct cached_key *k, const struct stat *st)
{
	return k->key && k->dev == st->st_dev && k->ino == st->st_ino && k->size == st->st_size &&
	       k->mtime.tv_sec == st->st_mtim.tv_sec && k->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	       k->ctime.tv_sec == st->st_ctim.tv_sec && k->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

/* The slot for st: its key, or the least recently used one (emptied). */
static struct cached_key *cache_slot(struct key_cache *c, const struct stat *st, bool *hit)
{
	struct cached_key *lru = &c->slot[0];
	for (size_t i = 0; i < MC_CACHE_SLOTS; i++) {
		if (same_file(&c->slot[i], st)) {
			*hit = true;
			return &c->slot[i];
		}
		if (c->slot[i].used < lru->used)
			lru = &c->slot[i];
	}
	*hit = false;
	mc_key_free(lru->key);
	memset(lru, 0, sizeof *lru);
	return lru;
}

int mc_key_load_cached(const char *maildir, const struct mc_key **out, char *why, size_t whylen)
{
	pthread_once(&cache_once, cache_init);
	struct key_cache *c = pthread_getspecific(cache_key);
	if (!c) {
		c = xcalloc(1, sizeof *c);
		pthread_setspecific(cache_key, c);
	}
	char *path;
	*out = NULL;
	int fd = open_key(maildir, &path), r;
	struct stat st;
	bool hit = false;
	if (fd < 0) {
		r = no_key_file(path, why, whylen);
	} else if (fstat(fd, &st) < 0) {
		snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
		r = -1;
	} else {
		struct cached_key *k = cache_slot(c, &st, &hit);
		r = hit ? 1 : read_key(fd, path, &k->key, why, whylen);
		if (r == 1) {
			*k = (struct cached_key){ k->key, st.st_dev, st.st_ino, st.st_size, st.st_mtim,
						  st.st_ctim, ++c->clock };
			*out = k->key;
		}
	}
	if (fd >= 0)
		close(fd);
	free(path);
	return r;
}

void mc_preload(void)
{
	/* Without a locked pool for Botan (librnp's crypto library; its secure
	 * buffers then live on the ordinary heap, still wiped when freed). The
	 * pool is 128 locked pages, each between guard pages: 260 mappings that
	 * every fork of this process copies, and the IMAP mail role forks a
	 * process per login (fork+exit+wait 1.1 ms without, 9-10 ms with, on a
	 * loaded machine). It protects nothing tern has: we only encrypt to
	 * public keys, and the message being sealed sits in ordinary memory
	 * beside its session key. An administrator's own setting is kept. */
	setenv("BOTAN_MLOCK_POOL_SIZE", "0", 0);
	OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG, NULL);
	rnp_ffi_t ffi = NULL;
	if (rnp_ffi_create(&ffi, "GPG", "GPG") == RNP_SUCCESS)
		rnp_ffi_destroy(ffi);
}

void mc_opts_load(const struct cfg *tern_conf, struct mc_opts *o)
{
	o->keep_subject = cfg_bool(tern_conf, "encrypt_keep_subject");
	o->smime_gcm = !strcmp(cfg_str(tern_conf, "encrypt_smime_cipher"), "aes256-gcm");
	o->clear_on_failure = !strcmp(cfg_str(tern_conf, "encrypt_failure"), "deliver_clear");
}

/* ---- the stored form ---- */

void mc_sink_init(struct mc_sink *s, int fd)
{
	memset(s, 0, offsetof(struct mc_sink, buf));
	s->fd = fd;
}

int mc_sink_flush(struct mc_sink *s)
{
	if (!s->err && s->n && write_all(s->fd, s->buf, s->n) < 0)
		s->err = errno ? errno : EIO;
	s->n = 0;
	return s->err ? -1 : 0;
}

static void sink_byte(struct mc_sink *s, char c)
{
	if (s->n == sizeof s->buf)
		mc_sink_flush(s);
	s->buf[s->n++] = c;
	s->bytes++;
	s->lfs += c == '\n';
	s->last = c;
}

void mc_sink_put(struct mc_sink *s, const void *p, size_t len)
{
	const char *c = p;
	for (size_t i = 0; i < len; i++) {
		if (s->held_cr && c[i] != '\n')
			sink_byte(s, '\r');
		s->held_cr = c[i] == '\r';
		if (!s->held_cr)
			sink_byte(s, c[i]);
	}
}

void mc_sink_puts(struct mc_sink *s, const char *str)
{
	mc_sink_put(s, str, strlen(str));
}

/* ---- the plaintext ---- */

static bool source_fill(struct mc_source *s)
{
	if (s->rpos < s->rlen)
		return true;
	if (s->off >= s->end)
		return false;
	size_t want = s->end - s->off < sizeof s->rbuf ? (size_t)(s->end - s->off) : sizeof s->rbuf;
	ssize_t n = pread(s->fd, s->rbuf, want, (off_t)s->off);
	if (n <= 0) {
		s->err = n < 0 ? errno : EIO;	/* the file is shorter than its size: damaged */
		return false;
	}
	s->off += (uint64_t)n;
	s->rlen = (size_t)n;
	s->rpos = 0;
	return true;
}

ssize_t mc_source_read(struct mc_source *s, char *buf, size_t len)
{
	size_t o = 0;
	if (s->headpos < s->headlen) {
		o = s->headlen - s->headpos < len ? s->headlen - s->headpos : len;
		memcpy(buf, s->head + s->headpos, o);
		s->headpos += o;
	}
	while (o + 1 < len && source_fill(s)) {
		char c = s->rbuf[s->rpos++];
		if (c == '\n' && !s->prev_cr)
			buf[o++] = '\r';	/* a bare LF (a Maildir-form input): canonical CRLF */
		buf[o++] = c;
		s->prev_cr = c == '\r';
	}
	if (s->err)
		return -1;
	return (ssize_t)o;
}

/* ---- sealing ---- */

static int pread_full(int fd, char *buf, size_t n)
{
	for (size_t o = 0; o < n;) {
		ssize_t r = pread(fd, buf + o, n - o, (off_t)o);
		if (r <= 0) {
			errno = r < 0 ? errno : EIO;
			return -1;
		}
		o += (size_t)r;
	}
	return 0;
}

/* The start of the message: up to MC_HEADER_FIRST bytes, more (up to
 * MC_HEADER_MAX) only when the header does not end within them. */
static char *read_start(int fd, uint64_t size, size_t *got)
{
	size_t n = size < MC_HEADER_FIRST ? (size_t)size : MC_HEADER_FIRST;
	char *buf = xmalloc(n + 1);
	if (pread_full(fd, buf, n) < 0) {
		free(buf);
		return NULL;
	}
	if (n < size && !memmem(buf, n, "\n\r\n", 3) && !memmem(buf, n, "\n\n", 2)) {
		n = size < MC_HEADER_MAX ? (size_t)size : MC_HEADER_MAX;
		buf = xrealloc(buf, n + 1);
		if (pread_full(fd, buf, n) < 0) {
			free(buf);
			return NULL;
		}
	}
	*got = n;
	return buf;
}

static const char smime_head[] =
	"MIME-Version: 1.0\n"
	"Content-Type: application/pkcs7-mime; smime-type=%s; name=\"smime.p7m\"\n"
	"Content-Transfer-Encoding: base64\n"
	"Content-Disposition: attachment; filename=\"smime.p7m\"\n"
	"Content-Description: S/MIME encrypted message\n\n";

/* The boundary cannot occur in ASCII armour ("=_" is no base64). */
#define PGP_BOUNDARY "=_tern-pgp-mime"
static const char pgp_head[] =
	"MIME-Version: 1.0\n"
	"Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\";\n"
	"\tboundary=\"" PGP_BOUNDARY "\"\n\n"
	"This is an OpenPGP/MIME encrypted message (RFC 3156).\n"
	"--" PGP_BOUNDARY "\n"
	"Content-Type: application/pgp-encrypted\n"
	"Content-Description: PGP/MIME version identification\n\n"
	"Version: 1\n\n"
	"--" PGP_BOUNDARY "\n"
	"Content-Type: application/octet-stream; name=\"encrypted.asc\"\n"
	"Content-Description: OpenPGP encrypted message\n"
	"Content-Disposition: inline; filename=\"encrypted.asc\"\n\n";
static const char pgp_tail[] = "\n--" PGP_BOUNDARY "--\n";

static int seal_body(const struct mc_key *k, const struct mc_opts *o, struct mc_source *src,
		     struct mc_sink *out, char *why, size_t whylen)
{
	if (k->kind == MC_SMIME) {
		char head[sizeof smime_head + 32];
		snprintf(head, sizeof head, smime_head, o->smime_gcm ? "authEnveloped-data" : "enveloped-data");
		mc_sink_puts(out, head);
		return mc_smime_encrypt(k, o->smime_gcm, src, out, why, whylen);
	}
	mc_sink_puts(out, pgp_head);
	int r = mc_pgp_encrypt(k, src, out, why, whylen);
	if (out->last == '\n')
		mc_sink_puts(out, pgp_tail + 1);	/* the armour ended its last line */
	else
		mc_sink_puts(out, pgp_tail);
	return r;
}

int mc_seal(const struct mc_key *k, const struct mc_opts *o, int in_fd, uint64_t size,
	    int out_fd, struct mc_counts *c, char *why, size_t whylen)
{
	memset(c, 0, sizeof *c);
	size_t got = 0;
	char *start = read_start(in_fd, size, &got);
	if (!start) {
		snprintf(why, whylen, "cannot read the message: %s", strerror(errno));
		return MC_ERR_IO;
	}
	struct mc_header h;
	mc_header_build(start, got, got == size, o->keep_subject, &h);
	free(start);
	if (h.encrypted) {
		mc_header_free(&h);
		return MC_AS_IS;
	}
	struct mc_sink *out = xmalloc(sizeof *out);
	struct mc_source *src = xmalloc(sizeof *src);
	mc_sink_init(out, out_fd);
	memset(src, 0, offsetof(struct mc_source, rbuf));
	src->head = h.inner;
	src->headlen = h.innerlen;
	src->fd = in_fd;
	src->off = h.body_off;
	src->end = size;
	mc_sink_put(out, h.outer, h.outerlen);
	int r = seal_body(k, o, src, out, why, whylen) < 0 ? MC_ERR_CRYPTO : MC_SEALED;
	if (mc_sink_flush(out) < 0 || src->err) {
		errno = out->err ? out->err : src->err;
		snprintf(why, whylen, "%s: %s", out->err ? "cannot write" : "cannot read the message",
			 strerror(errno));
		r = MC_ERR_IO;
	}
	c->bytes = out->bytes;
	c->lfs = out->lfs;
	free(out);
	free(src);
	mc_header_free(&h);
	return r;
}
