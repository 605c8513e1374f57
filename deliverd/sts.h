/* sts.h — MTA-STS (RFC 8461) for the remote agent. The policies are fetched
 * over HTTPS by a process of their own (`tern-deliverd --sts`, account
 * tern-sts, chrooted in run_dir): the SMTP client never speaks HTTP, and the
 * fetcher holds no message and no key. The agent asks it over run/sts.sock:
 *
 *   STS_QUERY  { str domain }
 *   STS_ANSWER { u32 mode (STS_NONE: no policy), u64 max_age, str id,
 *                u32 n, n x str mx pattern }
 *
 * The fetcher keeps each policy for its max_age and refetches when the
 * domain's TXT record names a new id (RFC 8461 5.1); a policy that cannot be
 * fetched is no policy unless one is still cached (5). */
#ifndef TERN_DELIVERD_STS_H
#define TERN_DELIVERD_STS_H

#include "common/config.h"
#include "common/instance.h"
#include "common/sts_policy.h"

#include <stdbool.h>

enum { STS_QUERY = 1, STS_ANSWER = 2 };

#define STS_SOCK "sts"

/* The fetcher role (sts_server.c); returns the exit status. */
int sts_main(struct instance *in, struct cfg *conf);

/* sts_fetch.c: GET https://mta-sts.DOMAIN/.well-known/mta-sts.txt. ca: PEM
 * bundle (its bytes); port: 443 but for tests; addr: where mta-sts.DOMAIN is
 * (resolved by the caller through common/dns). true with the policy parsed. */
bool sts_fetch(const char *domain, const char *addr, unsigned port, const char *ca, size_t calen,
	       int timeout_sec, struct sts_policy *p, char *why, size_t whylen);

/* sts_client.c, in the remote agent: the policy of domain, STS_NONE when it
 * has none or the fetcher does not answer in time. Thread-safe. */
void sts_client_init(const char *sock_path, bool enabled);
void sts_lookup(const char *domain, struct sts_policy *p);

#endif
