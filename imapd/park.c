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

static void put_session(struct ipc_msg *m, const struct park_state *ps)
{
	ipc_put_str(m, ps->tag);
	ipc_put_u64(m, ps->idle_start);
}

void park_put_view(struct ipc_msg *m, const struct park_state *ps)
{
	ipc_put_str(m, ps->folder);
	ipc_put_str(m, ps->kws);
	ipc_put_str(m, ps->recent);
	ipc_put_u32(m, ps->flags);
	ipc_put_u32(m, ps->uidvalidity);
	ipc_put_u32(m, ps->uidnext);
	ipc_put_u32(m, ps->exists);
	ipc_put_u64(m, ps->modseq);
}

void park_put(struct ipc_msg *m, const struct park_state *ps, bool with_user)
{
	if (with_user) {
		ipc_put_str(m, ps->user);
		ipc_put_str(m, ps->ip);
	}
	put_session(m, ps);
	park_put_view(m, ps);
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

static bool get_session(struct ipc_msg *m, struct park_state *ps)
{
	ps->tag = dup_or_null(ipc_get_str(m, 64));
	ps->idle_start = ipc_get_u64(m);
	return ps->tag && *ps->tag;
}

/* Into ps, whose other fields are left as they are. */
static bool get_view(struct ipc_msg *m, struct park_state *ps)
{
	ps->folder = dup_or_null(ipc_get_str(m, 1024));
	ps->kws = dup_or_null(ipc_get_str(m, PARK_KWS_MAX));
	ps->recent = dup_or_null(ipc_get_str(m, PARK_RECENT_MAX));
	ps->flags = ipc_get_u32(m);
	ps->uidvalidity = ipc_get_u32(m);
	ps->uidnext = ipc_get_u32(m);
	ps->exists = ipc_get_u32(m);
	ps->modseq = ipc_get_u64(m);
	return ps->folder && ps->kws && ps->recent;
}

bool park_get_view(struct ipc_msg *m, struct park_state *ps)
{
	memset(ps, 0, sizeof *ps);
	if (get_view(m, ps))
		return true;
	park_free(ps);
	return false;
}

bool park_get(struct ipc_msg *m, struct park_state *ps, bool with_user)
{
	memset(ps, 0, sizeof *ps);
	if (with_user) {
		ps->user = dup_or_null(ipc_get_str(m, 320));
		ps->ip = dup_or_null(ipc_get_str(m, 64));
	}
	bool ok = get_session(m, ps);
	ok = get_view(m, ps) && ok;
	if (!ok || !ipc_end(m) || (with_user && (!ps->user || !ps->ip))) {
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

unsigned char *park_seal(const unsigned char *secret, const struct park_state *ps, bool view,
			 size_t *len)
{
	struct ipc_msg m;
	ipc_msg_init(&m, view ? IDLE_VIEW_TICKET : IDLE_TICKET, 0);
	ipc_put_str(&m, ps->user);
	if (view) {
		park_put_view(&m, ps);
	} else {
		ipc_put_str(&m, ps->ip);
		put_session(&m, ps);
	}
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

/* The message of a ticket of type whose seal verifies, decoded into m. */
static bool unseal(const unsigned char *secret, const void *ticket, size_t len, uint16_t type,
		   struct ipc_msg *m)
{
	unsigned char mac[SEAL_LEN];
	const unsigned char *t = ticket;
	if (len <= SEAL_LEN || !seal(secret, t, len - SEAL_LEN, mac) ||
	    CRYPTO_memcmp(mac, t + len - SEAL_LEN, SEAL_LEN) != 0)
		return false;
	long used = ipc_decode(t, len - SEAL_LEN, m);
	if (used == (long)(len - SEAL_LEN) && m->hdr.type == type)
		return true;
	if (used > 0)
		ipc_msg_free(m);
	return false;
}

bool park_open_view(const unsigned char *secret, const void *view, size_t len,
		    struct park_state *ps)
{
	struct ipc_msg m;
	memset(ps, 0, sizeof *ps);
	if (!unseal(secret, view, len, IDLE_VIEW_TICKET, &m))
		return false;
	ps->user = dup_or_null(ipc_get_str(&m, 320));
	bool ok = get_view(&m, ps) && ps->user && ipc_end(&m);
	ipc_msg_free(&m);
	if (!ok)
		park_free(ps);
	return ok;
}

bool park_open(const unsigned char *secret, const void *session, size_t slen, const void *view,
	       size_t vlen, struct park_state *ps)
{
	struct ipc_msg m;
	if (!park_open_view(secret, view, vlen, ps))
		return false;
	if (!unseal(secret, session, slen, IDLE_TICKET, &m)) {
		park_free(ps);
		return false;
	}
	const char *user = ipc_get_str(&m, 320);
	ps->ip = dup_or_null(ipc_get_str(&m, 64));
	/* both halves of one user's: a holder may regroup sessions, never
	 * show one user's folder to another */
	bool ok = user && !strcmp(user, ps->user) && ps->ip && get_session(&m, ps) && ipc_end(&m);
	ipc_msg_free(&m);
	if (!ok)
		park_free(ps);
	return ok;
}
