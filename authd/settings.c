/* settings.c — authd.conf: declared once here (mailctl init writes the file
 * with `tern-authd --print-config`). */
#include "authd/authd.h"
#include "authd/ratelimit.h"

struct authd authd;

const struct cfg_key authd_settings[] = {
	CFG_KEY_TIME("failure_delay", "2s", 0, 60, "A failed login is answered only after this delay (slows password guessing)"),
	CFG_KEY_INT("max_failures", "5", 1, 100000, "Failed logins from one client address within failure_window before it is locked out"),
	CFG_KEY_TIME("failure_window", "10m", 1, 7 * 86400, "Period over which failed logins from one client address are counted"),
	CFG_KEY_TIME("lockout_time", "5m", 0, 7 * 86400, "How long a locked-out client address is refused (AUTH_LOCKED) without checking passwords"),
	CFG_KEY_TIME("token_lifetime", "60s", 1, 3600, "Validity of the login token handed to the post-login mail process"),
	CFG_KEY_INT("alias_max_depth", "10", 1, 100, "Deepest alias nesting followed before giving up (loop protection)"),
	CFG_KEY_INT("max_connections", "512", 1, 65536, "Simultaneous client connections (each daemon process uses one)"),
	CFG_KEY_INT("hash_threads", "2", 1, 64, "Threads that check password hashes (each check takes tens of milliseconds of CPU)"),
	CFG_KEY_INT("max_tracked_clients", "10000", 16, 10000000, "Client addresses remembered for failure counting (oldest dropped first)"),
	CFG_KEY_END,
};

void authd_apply_settings(const struct cfg *conf)
{
	unsigned maxf = (unsigned)cfg_int(conf, "max_failures");
	uint64_t window = cfg_int(conf, "failure_window") * 1000;
	uint64_t lockout = cfg_int(conf, "lockout_time") * 1000;

	authd.fail_delay_ms = cfg_int(conf, "failure_delay") * 1000;
	authd.token_lifetime_s = cfg_int(conf, "token_lifetime");
	authd.max_depth = (unsigned)cfg_int(conf, "alias_max_depth");
	authd.max_conns = (unsigned)cfg_int(conf, "max_connections");
	/* Each daemon shares one connection among all its sessions: a burst of
	 * failed logins (each held for failure_delay) must not make us drop it. */
	authd.max_pending = 4096;
	authd.hash_threads = (unsigned)cfg_int(conf, "hash_threads");
	if (!authd.rl)
		authd.rl = rl_new(maxf, window, lockout, (size_t)cfg_int(conf, "max_tracked_clients"));
	else
		rl_configure(authd.rl, maxf, window, lockout);
}
