/* Unit tests: authd failed-login rate limiter. */
#include "authd/ratelimit.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct ratelimit *limiter(unsigned max_failures, uint64_t window_ms, uint64_t lockout_ms,
				 size_t max_entries)
{
	struct rl_policy p = { .max_failures = max_failures, .window_ms = window_ms,
			       .lockout_ms = lockout_ms, .delay_ms = 1000, .max_delay_ms = 15000,
			       .by_address = true };
	return rl_new(&p, max_entries);
}

/* The answer to each failure waits twice as long as the one before, up to the
 * ceiling; a success, or a quiet failure_window, starts again. */
static void test_penalty_doubles(void)
{
	struct rl_policy p = { .max_failures = 6, .window_ms = 600000, .lockout_ms = 300000,
			       .delay_ms = 2000, .max_delay_ms = 15000, .by_address = true };
	struct ratelimit *rl = rl_new(&p, 16);
	static const uint64_t want[] = { 2000, 4000, 8000, 15000, 15000, 15000 };
	uint64_t t = 5000000;
	CHECK(rl_penalty(rl, "192.0.2.1", t) == 0);
	for (size_t i = 0; i < 6; i++) {
		CHECK(!rl_locked(rl, "192.0.2.1", t));
		CHECK(rl_failure(rl, "192.0.2.1", t) == i + 1);
		CHECK(rl_penalty(rl, "192.0.2.1", t) == want[i]);
		t += want[i];
	}
	CHECK(rl_locked(rl, "192.0.2.1", t));		/* the sixth locks */
	rl_forget(rl, "192.0.2.1");			/* a success */
	CHECK(!rl_locked(rl, "192.0.2.1", t));
	rl_failure(rl, "192.0.2.1", t);
	CHECK(rl_penalty(rl, "192.0.2.1", t) == 2000);
	rl_failure(rl, "192.0.2.1", t + 1);
	CHECK(rl_penalty(rl, "192.0.2.1", t + 1) == 4000);
	/* Reset by time: a failure_window without failures forgets them. */
	rl_failure(rl, "192.0.2.1", t + 1 + 600000);
	CHECK(rl_penalty(rl, "192.0.2.1", t + 1 + 600000) == 2000);
	rl_free(rl);
}

/* Users: free failures first, then slowed like addresses, never locked. */
static void test_user_slowed_not_locked(void)
{
	struct rl_policy p = { .max_failures = 0, .free_failures = 3, .window_ms = 600000,
			       .delay_ms = 1000, .max_delay_ms = 4000 };
	struct ratelimit *rl = rl_new(&p, 16);
	uint64_t t = 7000000;
	static const uint64_t want[] = { 0, 0, 0, 1000, 2000, 4000, 4000 };
	for (size_t i = 0; i < 7; i++) {
		rl_failure(rl, "alice@example.test", t + i);
		CHECK(rl_penalty(rl, "alice@example.test", t + i) == want[i]);
	}
	for (int i = 0; i < 100; i++)
		rl_failure(rl, "alice@example.test", t + 10);
	CHECK(!rl_locked(rl, "alice@example.test", t + 10));
	CHECK(rl_penalty(rl, "bob@example.test", t) == 0);
	rl_free(rl);
}

/* The state written by rl_save reads back after a "restart": the monotonic
 * clock of the new process differs, the wall clock goes on. */
static void test_save_and_load(void)
{
	struct rl_policy p = { .max_failures = 3, .window_ms = 600000, .lockout_ms = 300000,
			       .delay_ms = 1000, .max_delay_ms = 8000, .by_address = true };
	struct ratelimit *rl = rl_new(&p, 16);
	uint64_t mono = 900000, wall = 1800000000000ull;
	rl_failure(rl, "192.0.2.7", mono - 5000);
	rl_failure(rl, "192.0.2.7", mono - 4000);	/* two failures: 2 s penalty */
	for (int i = 0; i < 3; i++)
		rl_failure(rl, "2001:db8::9", mono - 1000);	/* locked for 300 s */
	rl_failure(rl, "198.51.100.1", mono - 700000);	/* forgotten: window over */
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	rl_save(rl, f, 'c', mono, wall);
	fclose(f);
	CHECK(strstr(buf, "c 192.0.2.7 2 ") != NULL);
	CHECK(strstr(buf, "198.51.100.1") == NULL);
	rl_free(rl);

	rl = rl_new(&p, 16);
	uint64_t mono2 = 1000, wall2 = wall + 60000;	/* a minute later, new process */
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		CHECK(rl_load_line(rl, line, 'c', mono2, wall2));
	CHECK(rl_load_line(rl, "u alice@example.test 4 1 0", 'c', mono2, wall2));	/* other table */
	CHECK(!rl_load_line(rl, "c garbage", 'c', mono2, wall2));
	CHECK(rl_count(rl) == 2);
	rl_failure(rl, "192.0.2.7", mono2);
	CHECK(rl_penalty(rl, "192.0.2.7", mono2) == 4000);	/* the third failure */
	CHECK(rl_locked(rl, "2001:db8::1", mono2));		/* same /64, still locked */
	CHECK(!rl_locked(rl, "2001:db8::1", mono2 + 300000));
	free(buf);
	rl_free(rl);
}

int main(void)
{
	test_penalty_doubles();
	test_user_slowed_not_locked();
	test_save_and_load();

	/* 3 failures in 10 s lock for 60 s. */
	struct ratelimit *rl = limiter(3, 10000, 60000, 4);
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
	rl = limiter(2, 10000, 60000, 4);
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
	rl = limiter(1, 10000, 60000, 8);
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
	struct rl_policy p5 = { .max_failures = 5, .window_ms = 10000, .lockout_ms = 1000,
				.by_address = true };
	rl_configure(rl, &p5);
	CHECK(rl_locked(rl, "", t + 10));
	rl_free(rl);
	return check_summary("ratelimit");
}
