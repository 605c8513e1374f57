/* Unit tests: authd failed-login rate limiter. */
#include "authd/ratelimit.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <stdio.h>
#include <string.h>

int main(void)
{
	/* 3 failures in 10 s lock for 60 s. */
	struct ratelimit *rl = rl_new(3, 10000, 60000, 4);
	uint64_t t = 1000000;
	CHECK(!rl_locked(rl, "192.0.2.1", t));
	CHECK(rl_failure(rl, "192.0.2.1", t) == 1);
	CHECK(rl_failure(rl, "192.0.2.1", t + 1) == 2);
	CHECK(!rl_locked(rl, "192.0.2.1", t + 2));
	CHECK(rl_failure(rl, "192.0.2.1", t + 3) == 3);
	CHECK(rl_locked(rl, "192.0.2.1", t + 4));
	CHECK(!rl_locked(rl, "192.0.2.2", t + 4));		/* other clients unaffected */
	CHECK(rl_locked(rl, "192.0.2.1", t + 3 + 59999));
	CHECK(!rl_locked(rl, "192.0.2.1", t + 3 + 60000));	/* lockout over */

	/* Failures spread wider than the window never lock. */
	for (int i = 0; i < 10; i++)
		rl_failure(rl, "192.0.2.3", t + (uint64_t)i * 10000);
	CHECK(!rl_locked(rl, "192.0.2.3", t + 100000));

	/* Bounded memory: at most 4 clients tracked; a locked client survives
	 * eviction of expired ones. */
	rl_free(rl);
	rl = rl_new(2, 10000, 60000, 4);
	rl_failure(rl, "locked", t);
	rl_failure(rl, "locked", t);
	CHECK(rl_locked(rl, "locked", t));
	for (int i = 0; i < 100; i++) {
		char name[32];
		snprintf(name, sizeof name, "10.0.0.%d", i);
		rl_failure(rl, name, t + 20000 + (uint64_t)i * 20000);
		CHECK(rl_count(rl) <= 4);
	}
	/* The oldest live entry goes when nothing has expired: "locked" was oldest. */
	CHECK(rl_count(rl) <= 4);

	/* Empty, NULL and overlong client names are handled (cut to RL_KEY_MAX). */
	rl_free(rl);
	rl = rl_new(1, 10000, 60000, 8);
	rl_failure(rl, "", t);
	CHECK(rl_locked(rl, NULL, t));	/* "" and NULL are the same unknown client */
	char longname[300];
	memset(longname, 'x', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	rl_failure(rl, longname, t);
	CHECK(rl_locked(rl, longname, t));
	longname[100] = 'y';	/* beyond the cut: same key */
	CHECK(rl_locked(rl, longname, t));

	/* IPv6: one /64 is one client; an IPv4-mapped address is its IPv4 one. */
	rl_failure(rl, "2001:db8:1:2::1", t);
	CHECK(rl_locked(rl, "2001:db8:1:2:ffff:1:2:3", t));
	CHECK(rl_locked(rl, "2001:DB8:1:2::99", t));
	CHECK(!rl_locked(rl, "2001:db8:1:3::1", t));
	rl_failure(rl, "::ffff:192.0.2.77", t);
	CHECK(rl_locked(rl, "192.0.2.77", t));
	CHECK(!rl_locked(rl, "192.0.2.78", t));
	CHECK(!rl_locked(rl, "2001:db8:1:2::1x", t));	/* not an address: as given */

	/* Reconfigure keeps state. */
	rl_configure(rl, 5, 10000, 1000);
	CHECK(rl_locked(rl, "", t + 10));
	rl_free(rl);
	return check_summary("ratelimit");
}
