/* settings.c — pop3d.conf: every setting of both roles, declared once. */
#include "pop3d/pop3d.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

const struct cfg_key pop3d_settings[] = {
	CFG_KEY_PATH("tls_cert", "tls/cert.pem", "TLS certificate chain (PEM) for STLS and pop3s"),
	CFG_KEY_PATH("tls_key", "tls/key.pem", "TLS private key (PEM)"),
	CFG_KEY_PLAINTEXT_AUTH,
	CFG_KEY_PLAINTEXT_AUTH_OLD("plaintext_loopback"),
	CFG_KEY_TIME("idle_timeout", "10m", 1, 86400, "Disconnect a client idle this long (RFC 1939: at least 10 minutes)"),
	CFG_KEY_TIME("login_timeout", "10m", 1, 86400, "Longest time a client may take to log in"),
	CFG_KEY_TIME("dead_client_timeout", "60s", 1, 3600, "A client whose connection stops answering at the TCP level (keepalive probes, data sent) for this long is gone: its session ends and the mailbox is free again (a connection closed or reset ends it at once)"),
	/* Below 64 bytes not even "AUTH PLAIN" with a short response fits. */
	CFG_KEY_SIZE("max_command_line", "512", 64, 65536, "Longest command line accepted, CRLF included (RFC 2449: 255)"),
	CFG_KEY_RENAMED("max_command_length", CFG_SIZE, "max_command_line", NULL),
	CFG_KEY_INT("max_errors", "10", 1, 1000000, "Disconnect a client after this many bad commands"),
	CFG_KEY_INT("max_sessions", "1000", 1, 1000000, "Most concurrent connections (login role) and sessions (mail role)"),
	CFG_KEY_INT("max_sessions_per_ip", "50", 1, 1000000, "Most concurrent connections from one client address"),
	CFG_KEY_INT("max_messages", "100000", 1, 10000000, "Most messages listed in one session (oldest first; the rest wait)"),
	CFG_KEY_TIME("login_delay", "0", 0, 365 * 86400, "Least time between two logins of a mailbox (CAPA LOGIN-DELAY; 0 = none)"),
	CFG_KEY_ENUM("expire", "off", "off,never,0",
		     "CAPA EXPIRE: off (not announced), never (mail stays until the client deletes it) or 0 (a retrieved message is removed at QUIT)"),
	CFG_KEY_END,
};

void pop3d_conf_load(const struct cfg *c, struct pop3d_conf *o)
{
	memset(o, 0, sizeof *o);
	o->tls_cert = cfg_path(c, "tls_cert");
	o->tls_key = cfg_path(c, "tls_key");
	netlist_from_cfg(&o->plaintext_nets, c, "plaintext_auth_networks");
	o->idle_timeout = (unsigned)cfg_int(c, "idle_timeout");
	o->login_timeout = (unsigned)cfg_int(c, "login_timeout");
	o->dead_client_timeout = (unsigned)cfg_int(c, "dead_client_timeout");
	o->max_command = cfg_int(c, "max_command_line");
	o->max_errors = (unsigned)cfg_int(c, "max_errors");
	o->max_sessions = (unsigned)cfg_int(c, "max_sessions");
	o->max_sessions_per_ip = (unsigned)cfg_int(c, "max_sessions_per_ip");
	o->max_messages = (unsigned)cfg_int(c, "max_messages");
	o->login_delay = (unsigned)cfg_int(c, "login_delay");
	o->expire_never = !strcmp(cfg_str(c, "expire"), "never");
	o->expire_zero = !strcmp(cfg_str(c, "expire"), "0");
}

void pop3d_conf_free(struct pop3d_conf *c)
{
	free(c->tls_cert);
	free(c->tls_key);
	netlist_free(&c->plaintext_nets);
	memset(c, 0, sizeof *c);
}
