/* settings.c — pop3d.conf: every setting of both roles, declared once. */
#include "pop3d/pop3d.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

const struct cfg_key pop3d_settings[] = {
	{ "tls_cert", CFG_PATH, "tls/cert.pem", "TLS certificate chain (PEM) for STLS and pop3s", NULL },
	{ "tls_key", CFG_PATH, "tls/key.pem", "TLS private key (PEM)", NULL },
	{ "plaintext_loopback", CFG_BOOL, "no",
	  "Allow USER/PASS and AUTH without TLS from loopback clients (never from others)", NULL },
	{ "idle_timeout", CFG_TIME, "10m", "Disconnect a client idle this long (RFC 1939: at least 10 minutes)", NULL },
	{ "login_timeout", CFG_TIME, "10m", "Longest time a client may take to log in", NULL },
	{ "max_command_length", CFG_SIZE, "512", "Longest command line accepted, CRLF included (RFC 2449: 255)", NULL },
	{ "max_errors", CFG_INT, "10", "Disconnect a client after this many bad commands", NULL },
	{ "max_sessions", CFG_INT, "1000", "Most concurrent connections (login role) and sessions (mail role)", NULL },
	{ "max_sessions_per_ip", CFG_INT, "50", "Most concurrent connections from one client address", NULL },
	{ "max_messages", CFG_INT, "100000", "Most messages listed in one session (oldest first; the rest wait)", NULL },
	{ "login_delay", CFG_TIME, "0", "Least time between two logins of a mailbox (CAPA LOGIN-DELAY; 0 = none)", NULL },
	{ "expire", CFG_ENUM, "off",
	  "CAPA EXPIRE: off (not announced), never (mail stays until the client deletes it) or 0 (a retrieved message is removed at QUIT)",
	  "off,never,0" },
	{ NULL, 0, NULL, NULL, NULL },
};

static unsigned clamp_u(uint64_t v, unsigned lo, unsigned hi)
{
	return v < lo ? lo : v > hi ? hi : (unsigned)v;
}

void pop3d_conf_load(const struct cfg *c, struct pop3d_conf *o)
{
	memset(o, 0, sizeof *o);
	o->tls_cert = cfg_path(c, "tls_cert");
	o->tls_key = cfg_path(c, "tls_key");
	o->plaintext_loopback = cfg_bool(c, "plaintext_loopback");
	o->idle_timeout = clamp_u(cfg_int(c, "idle_timeout"), 1, 86400);
	o->login_timeout = clamp_u(cfg_int(c, "login_timeout"), 1, 86400);
	/* Below 64 bytes not even "AUTH PLAIN" with a short response fits. */
	o->max_command = clamp_u(cfg_int(c, "max_command_length"), 64, 65536);
	o->max_errors = clamp_u(cfg_int(c, "max_errors"), 1, 1000000);
	o->max_sessions = clamp_u(cfg_int(c, "max_sessions"), 1, 1000000);
	o->max_sessions_per_ip = clamp_u(cfg_int(c, "max_sessions_per_ip"), 1, 1000000);
	o->max_messages = clamp_u(cfg_int(c, "max_messages"), 1, 10000000);
	o->login_delay = clamp_u(cfg_int(c, "login_delay"), 0, 86400 * 365);
	o->expire_never = !strcmp(cfg_str(c, "expire"), "never");
	o->expire_zero = !strcmp(cfg_str(c, "expire"), "0");
}

void pop3d_conf_free(struct pop3d_conf *c)
{
	free(c->tls_cert);
	free(c->tls_key);
	memset(c, 0, sizeof *c);
}
