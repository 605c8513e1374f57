/* settings.c — imapd.conf: every setting of tern-imapd, declared once. */
#include "imapd/imapd.h"
#include "common/netlist.h"

#include <stddef.h>

const struct cfg_key imapd_settings[] = {
	CFG_KEY_PATH("tls_cert", "tls/cert.pem", "TLS certificate chain (PEM) for STARTTLS and imaps"),
	CFG_KEY_PATH("tls_key", "tls/key.pem", "TLS private key (PEM)"),
	CFG_KEY_PLAINTEXT_AUTH,
	CFG_KEY_PLAINTEXT_AUTH_OLD("plaintext_login"),
	CFG_KEY_SIZE("max_command_line", "8k", 1024, 1024 * 1024, "Longest command line accepted (without literals)"),
	CFG_KEY_RENAMED("max_line", CFG_SIZE, "max_command_line", NULL),
	CFG_KEY_SIZE("max_command", "64k", 1024, 64 * 1024 * 1024, "Largest command accepted, literals included (APPEND messages excepted)"),
	CFG_KEY_SIZE("max_message_size", "50m", 1024, 2ull << 30, "Largest message APPEND accepts (announced as APPENDLIMIT)"),
	CFG_KEY_INT("max_sessions_per_user", "20", 1, 100000, "Concurrent IMAP sessions one user may have"),
	CFG_KEY_INT("max_sessions", "1000", 1, 1000000, "Connections the login process serves at once"),
	CFG_KEY_RENAMED("max_login_clients", CFG_INT, "max_sessions", NULL),
	CFG_KEY_INT("max_sessions_per_ip", "100", 1, 1000000, "Connections not yet logged in from one client address"),
	CFG_KEY_TIME("login_timeout", "60s", 1, 86400, "Time a client has to log in, counted from the connection (a deadline, not an inactivity timer)"),
	CFG_KEY_TIME("dead_client_timeout", "60s", 1, 3600, "A client whose connection stops answering at the TCP level (keepalive probes, data sent) for this long is gone: its session ends and no longer counts against max_sessions_per_user (a connection closed or reset ends it at once)"),
	CFG_KEY_TIME("idle_timeout", "30m", 1, 7 * 86400, "Inactivity before an authenticated session is closed (RFC 3501: at least 30m)"),
	CFG_KEY_TIME("idle_max", "29m", 1, 7 * 86400, "Longest IDLE before the server ends it"),
	CFG_KEY_TIME("idle_park_after", "30s", 0, 7 * 86400, "IDLE this long hands the session to the shared holder process, which keeps the connection in about 1 KiB, and ends the session's process until input or a change to its folder (0 = never; docs/ARCHITECTURE.md, Idle sessions)"),
	CFG_KEY_INT("qresync_expunge_records", "20000", 1, 10000000, "Expunges remembered per folder for QRESYNC; a client that last synchronised before the oldest is told of every UID of its range that is gone"),
	CFG_KEY_END,
};
