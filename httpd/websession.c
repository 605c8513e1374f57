/* websession.c — the webmail's login sessions (see webmail.h). The cookie
 * holds 32 random bytes; the CSRF token is another 32, given to the page at
 * login and checked on every state change (a forged cross-site request
 * carries the cookie at worst, never the token). Ids are compared in
 * constant time. */
#include "httpd/webmail.h"
#include "httpd/front_parse.h"
#include "common/util.h"

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static struct websession slots[WEBSESSION_SLOTS];
static uint64_t idle_ms;

void websession_init(uint64_t idle_s)
{
	idle_ms = idle_s * 1000;
}

static void random_hex(char out[WEBSESSION_ID_LEN + 1])
{
	unsigned char raw[WEBSESSION_ID_LEN / 2];
	if (RAND_bytes(raw, sizeof raw) != 1)
		fatal("no random bytes for a webmail session");
	for (size_t i = 0; i < sizeof raw; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

static void clear(struct websession *s)
{
	free(s->user);
	if (s->token)
		explicit_bzero(s->token, strlen(s->token));
	free(s->token);
	free(s->host);
	explicit_bzero(s, sizeof *s);
}

static bool expired(const struct websession *s, uint64_t now)
{
	return now >= s->used + idle_ms || now >= s->created + WEBSESSION_MAX_AGE_S * 1000ull;
}

/* A free slot, an expired one, else the least recently used. */
static struct websession *free_slot(void)
{
	uint64_t now = now_ms();
	struct websession *lru = &slots[0];
	for (size_t i = 0; i < WEBSESSION_SLOTS; i++) {
		if (!slots[i].user || expired(&slots[i], now))
			return &slots[i];
		if (slots[i].used < lru->used)
			lru = &slots[i];
	}
	return lru;
}

/* The expiry written after the last '.' of a token; 0 when none. */
static int64_t token_expiry(const char *token)
{
	const char *dot = strrchr(token, '.');
	uint64_t v;
	return dot && parse_u64(dot + 1, INT64_MAX, &v) ? (int64_t)v : 0;
}

/* The user's least recently used live session when the user already has
 * WEBSESSION_PER_USER, else NULL: one user logging in again and again
 * replaces their own sessions, never everyone else's. */
static struct websession *users_lru(const char *user)
{
	uint64_t now = now_ms();
	struct websession *lru = NULL;
	size_t n = 0;
	for (size_t i = 0; i < WEBSESSION_SLOTS; i++) {
		struct websession *s = &slots[i];
		if (!s->user || expired(s, now) || strcmp(s->user, user))
			continue;
		n++;
		if (!lru || s->used < lru->used)
			lru = s;
	}
	return n >= WEBSESSION_PER_USER ? lru : NULL;
}

struct websession *websession_new(const char *user, const char *token, const char *host)
{
	struct websession *s = users_lru(user);
	if (!s)
		s = free_slot();
	clear(s);
	random_hex(s->id);
	random_hex(s->csrf);
	s->user = xstrdup(user);
	s->token = xstrdup(token);
	s->host = xstrdup(host);
	s->token_expiry = token_expiry(token);
	s->created = s->used = now_ms();
	return s;
}

struct websession *websession_of(struct evhttp_request *req)
{
	char id[WEBSESSION_ID_LEN + 1];
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "Cookie");
	if (!front_cookie_value(h, id, WEBSESSION_ID_LEN))
		return NULL;
	uint64_t now = now_ms();
	for (size_t i = 0; i < WEBSESSION_SLOTS; i++) {
		struct websession *s = &slots[i];
		if (!s->user || CRYPTO_memcmp(s->id, id, WEBSESSION_ID_LEN) != 0)
			continue;
		if (expired(s, now)) {
			clear(s);
			return NULL;
		}
		s->used = now;
		return s;
	}
	return NULL;
}

bool websession_csrf_ok(struct evhttp_request *req, const struct websession *s)
{
	const char *h = evhttp_find_header(evhttp_request_get_input_headers(req), "X-CSRF-Token");
	return front_token_ok(h, s->csrf, WEBSESSION_ID_LEN);
}

const char *websession_token(const struct websession *s)
{
	return (int64_t)time(NULL) < s->token_expiry ? s->token : "";
}

void websession_end(struct websession *s)
{
	clear(s);
}
