/* park.c — the parked-session state: codec and sealed ticket (park.h). */
#include "imapd/park.h"
#include "common/auth_client.h"
#include "common/ipc.h"
#include "common/util.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>

#define SEAL_LEN 32

void park_put(struct ipc_msg *m, const struct park_state *ps, bool with_user)
{
	if (with_user) {
		ipc_put_str(m, ps->user);
		ipc_put_str(m, ps->ip);
	}
	ipc_put_str(m, ps->tag);
	ipc_put_str(m, ps->folder);
	ipc_put_str(m, ps->kws);
	ipc_put_str(m, ps->recent);
	ipc_put_u32(m, ps->flags);
	ipc_put_u32(m, ps->uidvalidity);
	ipc_put_u32(m, ps->uidnext);
	ipc_put_u32(m, ps->exists);
	ipc_put_u64(m, ps->modseq);
	ipc_put_u64(m, ps->idle_start);
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

bool park_get(struct ipc_msg *m, struct park_state *ps, bool with_user)
{
	memset(ps, 0, sizeof *ps);
	if (with_user) {
		ps->user = dup_or_null(ipc_get_str(m, 320));
		ps->ip = dup_or_null(ipc_get_str(m, 64));
	}
	ps->tag = dup_or_null(ipc_get_str(m, 64));
	ps->folder = dup_or_null(ipc_get_str(m, 1024));
	ps->kws = dup_or_null(ipc_get_str(m, PARK_KWS_MAX));
	ps->recent = dup_or_null(ipc_get_str(m, PARK_RECENT_MAX));
	ps->flags = ipc_get_u32(m);
	ps->uidvalidity = ipc_get_u32(m);
	ps->uidnext = ipc_get_u32(m);
	ps->exists = ipc_get_u32(m);
	ps->modseq = ipc_get_u64(m);
	ps->idle_start = ipc_get_u64(m);
	if (!ipc_end(m) || !ps->tag || !*ps->tag || !ps->folder || !ps->kws || !ps->recent ||
	    (with_user && (!ps->user || !ps->ip))) {
		park_free(ps);
		return false;
	}
	return true;
}

void park_free(struct park_state *ps)
{
	free(ps->user);
	free(ps->ip);
	free(ps->tag);
	free(ps->folder);
	free(ps->kws);
	free(ps->recent);
	memset(ps, 0, sizeof *ps);
}

/* The ticket key: the run secret under a label of its own, so a ticket is
 * never a valid login token or anything else made with the secret. */
static bool seal(const unsigned char *secret, const unsigned char *p, size_t n,
		 unsigned char out[SEAL_LEN])
{
	static const char label[] = "tern imap park ticket v2";
	unsigned char key[SEAL_LEN];
	unsigned kl = 0, ol = 0;
	bool ok = HMAC(EVP_sha256(), secret, AUTH_SECRET_LEN, (const unsigned char *)label,
		       sizeof label - 1, key, &kl) &&
		  HMAC(EVP_sha256(), key, sizeof key, p, n, out, &ol) && ol == SEAL_LEN;
	OPENSSL_cleanse(key, sizeof key);
	return ok;
}

unsigned char *park_seal(const unsigned char *secret, const struct park_state *ps, size_t *len)
{
	struct ipc_msg m;
	ipc_msg_init(&m, IDLE_TICKET, 0);
	park_put(&m, ps, true);
	size_t n;
	unsigned char *b = ipc_encode(&m, &n);
	ipc_msg_free(&m);
	b = xrealloc(b, n + SEAL_LEN);
	if (!seal(secret, b, n, b + n)) {
		free(b);
		return NULL;
	}
	*len = n + SEAL_LEN;
	return b;
}

bool park_open(const unsigned char *secret, const void *ticket, size_t len, struct park_state *ps)
{
	unsigned char mac[SEAL_LEN];
	const unsigned char *t = ticket;
	if (len <= SEAL_LEN || !seal(secret, t, len - SEAL_LEN, mac) ||
	    CRYPTO_memcmp(mac, t + len - SEAL_LEN, SEAL_LEN) != 0)
		return false;
	struct ipc_msg m;
	long used = ipc_decode(t, len - SEAL_LEN, &m);
	bool ok = used == (long)(len - SEAL_LEN) && m.hdr.type == IDLE_TICKET && park_get(&m, ps, true);
	if (used > 0)
		ipc_msg_free(&m);
	return ok;
}
