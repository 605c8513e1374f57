/* fuzz_authd.c — libFuzzer target for the auth channel's parsers: a frame as
 * authd reads it (ipc_decode and the typed field readers of every request),
 * the address normalisation behind every lookup (userdb_norm_*, split_detail),
 * a reply as the clients parse it (auth_reply_parse) and token verification.
 *
 * Invariants checked: a normalised address is lower-case, has one '@', no '/',
 * no "..", no leading dot, and normalising it again changes nothing; its base
 * (without +detail) is a valid address too; a parsed reply has its strings;
 * a token is never accepted for a secret it was not made with.
 * Run: make fuzz (long) or make fuzz-smoke (part of make check). */
#include "common/auth_client.h"
#include "common/ipc.h"
#include "common/userdb.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_address(const char *s)
{
	char a[USERDB_MAX_ADDR], again[USERDB_MAX_ADDR], base[USERDB_MAX_ADDR], detail[USERDB_MAX_LOCAL + 1];
	if (!userdb_norm_address(s, a))
		return;
	const char *at = strchr(a, '@');
	if (!at || strchr(at + 1, '@') || strchr(a, '/') || strstr(a, "..") || a[0] == '.')
		abort();
	for (const char *p = a; *p; p++)
		if (isupper((unsigned char)*p) || (unsigned char)*p <= ' ')
			abort();
	if (!userdb_norm_address(a, again) || strcmp(a, again))
		abort();
	userdb_split_detail(a, base, detail, sizeof detail);
	if (!userdb_norm_address(base, again) || strcmp(base, again))
		abort();
	if (strcmp(userdb_domain_of(a), userdb_domain_of(base)))
		abort();
}

static void check_request(struct ipc_msg *m)
{
	/* Every request is strings only: read as many as its type has. */
	static const int nfields[] = { 4, 0, 1, 0, 2, 0, 1, 0, 1, 0, 4, 0, 1, 0, 1, 0 };
	unsigned t = m->hdr.type;
	int n = t >= AUTH_LOGIN_REQ && t <= AUTH_ROUTE_RES ? nfields[t - AUTH_LOGIN_REQ] : 2;
	for (int i = 0; i < n; i++) {
		const char *s = ipc_get_str(m, AUTH_MAX_FIELD);
		if (s) {
			if (strlen(s) > AUTH_MAX_FIELD)
				abort();
			check_address(s);
		}
	}
	(void)ipc_end(m);
}

static void check_reply(const uint8_t *data, size_t size)
{
	struct ipc_msg m;
	for (uint16_t req = AUTH_LOGIN_REQ; req <= AUTH_ROUTE_REQ; req += 2) {
		if (ipc_decode(data, size, &m) <= 0)
			return;
		m.hdr.type = (uint16_t)(req + 1);	/* parse the payload as each reply */
		struct auth_reply r;
		bool ok = auth_reply_parse(&m, req, &r);
		if (!r.user || !r.token || (ok && r.tempfail) || (!ok && !r.tempfail) || r.n > 1024)
			abort();
		for (size_t i = 0; i < r.n; i++)
			if (!r.boxes[i].mailbox || !r.boxes[i].folder)
				abort();
		auth_reply_free(&r);
		ipc_msg_free(&m);
	}
}

static void check_token(const uint8_t *data, size_t size)
{
	unsigned char secret[AUTH_SECRET_LEN] = { 1 };
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	if (auth_token_verify(secret, s, "imap", "a@b.test", 0))
		abort();	/* forging an HMAC-SHA256 by chance: not in this lifetime */
	check_address(s);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_msg m;
	long used = ipc_decode(data, size, &m);
	if (used > 0) {
		check_request(&m);
		ipc_msg_free(&m);
	}
	check_reply(data, size);
	check_token(data, size);
	return 0;
}
