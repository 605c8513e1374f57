/* settings.c — authd.conf: declared once here (mailctl init writes the file
 * with `tern-authd --print-config`). */
#include "authd/authd.h"
#include "authd/ratelimit.h"
#include "common/pass_cache.h"

struct authd authd;

const struct cfg_key authd_settings[] = {
	CFG_KEY_MSEC("failure_delay", "2s", 0, 60000, "A client address's first failed login is answered after this delay; each further one within failure_window waits twice as long as the one before, up to max_failure_delay (a success from that address starts again)"),
	{ .name = "max_failure_delay", .type = CFG_MSEC, .def = "15s", .min = 0, .max = 300000,
	  .at_least = "failure_delay", .doc = "Longest delay before a failed login is answered" },
	CFG_KEY_INT("max_failures", "5", 1, 100000, "Failed logins from one client address within failure_window before it is locked out"),
	CFG_KEY_TIME("failure_window", "10m", 1, 7 * 86400, "Failed logins are forgotten after this long without a new one (per client address and per user)"),
	CFG_KEY_TIME("lockout_time", "5m", 0, 7 * 86400, "How long a locked-out client address is refused (AUTH_LOCKED) without checking passwords"),
	CFG_KEY_INT("user_max_failures", "10", 1, 1000000, "Failed logins for one user, from any addresses, within failure_window before each further failure for that user is slowed as well (delays doubling from failure_delay up to max_failure_delay; the user is never locked out: a right password is answered at once)"),
	CFG_KEY_TIME("token_lifetime", "60s", 1, 3600, "Validity of the login token handed to the post-login mail process"),
	CFG_KEY_INT("alias_max_depth", "10", 1, 100, "Deepest alias nesting followed before giving up (loop protection)"),
	CFG_KEY_INT("max_connections", "512", 1, 65536, "Simultaneous client connections (each daemon process uses one)"),
	CFG_KEY_INT("hash_threads", "2", 1, 64, "Threads that check password hashes (each check takes tens of milliseconds of CPU)"),
	CFG_KEY_TIME("password_cache_ttl", "10m", 0, 86400, "A password found right is remembered this long (as a keyed MAC with the stored hash, in memory only, never in core dumps), so the same user logging in again with it skips the slow hash; a changed password or a wrong one is always checked in full; 0 turns this off"),
	CFG_KEY_INT("directory_connections", "4", 1, 256, "directory = pgsql: threads answering lookups, each with its own connection to the database (the password checks of hash_threads have theirs too); with bdb lookups need no threads"),
	CFG_KEY_INT("max_tracked_clients", "10000", 16, 10000000, "Client addresses, and separately user names, remembered for failure counting (oldest dropped first)"),
	CFG_KEY_END,
};

void authd_apply_settings(const struct cfg *conf)
{
	uint64_t window = cfg_int(conf, "failure_window") * 1000;
	struct rl_policy clients = {
		.max_failures = (unsigned)cfg_int(conf, "max_failures"),
		.window_ms = window,
		.lockout_ms = cfg_int(conf, "lockout_time") * 1000,
		.delay_ms = cfg_int(conf, "failure_delay"),
		.max_delay_ms = cfg_int(conf, "max_failure_delay"),
		.by_address = true,
	};
	/* Users are slowed, never locked: locking would hand the attacker a way
	 * to keep the real user out (credential stuffing from many addresses). */
	struct rl_policy users = clients;
	users.max_failures = 0;
	users.lockout_ms = 0;
	users.free_failures = (unsigned)cfg_int(conf, "user_max_failures");
	users.by_address = false;
	size_t tracked = (size_t)cfg_int(conf, "max_tracked_clients");

	authd.fail_delay_ms = clients.delay_ms;
	authd.token_lifetime_s = cfg_int(conf, "token_lifetime");
	authd.max_depth = (unsigned)cfg_int(conf, "alias_max_depth");
	authd.max_conns = (unsigned)cfg_int(conf, "max_connections");
	/* Each daemon shares one connection among all its sessions: a burst of
	 * failed logins (each held for its delay) must not make us drop it. */
	authd.max_pending = 4096;
	authd.hash_threads = (unsigned)cfg_int(conf, "hash_threads");
	authd.lookup_threads = (unsigned)cfg_int(conf, "directory_connections");
	pass_cache_configure((uint64_t)cfg_int(conf, "password_cache_ttl") * 1000);
	if (!authd.rl) {
		authd.rl = rl_new(&clients, tracked);
		authd.rl_users = rl_new(&users, tracked);
	} else {
		rl_configure(authd.rl, &clients);
		rl_configure(authd.rl_users, &users);
	}
}
