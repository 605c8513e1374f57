/* settings.c — authd.conf: declared once here (mailctl init writes the file
 * with `tern-authd --print-config`). */
#include "authd/authd.h"
#include "authd/ratelimit.h"

struct authd authd;

const struct cfg_key authd_settings[] = {
	{ "failure_delay", CFG_TIME, "2s", "A failed login is answered only after this delay (slows password guessing)", NULL },
	{ "max_failures", CFG_INT, "5", "Failed logins from one client address within failure_window before it is locked out", NULL },
	{ "failure_window", CFG_TIME, "10m", "Period over which failed logins from one client address are counted", NULL },
	{ "lockout_time", CFG_TIME, "5m", "How long a locked-out client address is refused (AUTH_LOCKED) without checking passwords", NULL },
	{ "token_lifetime", CFG_TIME, "60s", "Validity of the login token handed to the post-login mail process", NULL },
	{ "alias_max_depth", CFG_INT, "10", "Deepest alias nesting followed before giving up (loop protection)", NULL },
	{ "max_connections", CFG_INT, "512", "Simultaneous client connections (each daemon process uses one)", NULL },
	{ "hash_threads", CFG_INT, "2", "Threads that check password hashes (each check takes tens of milliseconds of CPU)", NULL },
	{ "max_tracked_clients", CFG_INT, "10000", "Client addresses remembered for failure counting (oldest dropped first)", NULL },
	{ NULL, 0, NULL, NULL, NULL },
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
	if (authd.hash_threads < 1)
		authd.hash_threads = 1;
	if (!authd.rl)
		authd.rl = rl_new(maxf, window, lockout, (size_t)cfg_int(conf, "max_tracked_clients"));
	else
		rl_configure(authd.rl, maxf, window, lockout);
}
