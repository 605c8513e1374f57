/* settings.c — imapd.conf: every setting of tern-imapd, declared once. */
#include "imapd/imapd.h"

#include <stddef.h>

const struct cfg_key imapd_settings[] = {
	{ "tls_cert", CFG_PATH, "tls/cert.pem", "TLS certificate chain (PEM) for STARTTLS and imaps", NULL },
	{ "tls_key", CFG_PATH, "tls/key.pem", "TLS private key (PEM)", NULL },
	{ "plaintext_login", CFG_BOOL, "no", "Allow LOGIN and AUTHENTICATE before TLS (only for trusted networks)", NULL },
	{ "max_line", CFG_SIZE, "8k", "Longest command line accepted (without literals)", NULL },
	{ "max_command", CFG_SIZE, "64k", "Largest command accepted, literals included (APPEND messages excepted)", NULL },
	{ "max_message_size", CFG_SIZE, "50m", "Largest message APPEND accepts (announced as APPENDLIMIT)", NULL },
	{ "max_sessions_per_user", CFG_INT, "20", "Concurrent IMAP sessions one user may have", NULL },
	{ "max_login_clients", CFG_INT, "1000", "Connections the login process serves at once", NULL },
	{ "login_timeout", CFG_TIME, "60s", "Time a client has to log in", NULL },
	{ "idle_timeout", CFG_TIME, "30m", "Inactivity before an authenticated session is closed (RFC 3501: at least 30m)", NULL },
	{ "idle_max", CFG_TIME, "29m", "Longest IDLE before the server ends it", NULL },
	{ "qresync_expunge_records", CFG_INT, "20000", "Expunges remembered per folder for QRESYNC; a client that last synchronised before the oldest is told of every UID of its range that is gone", NULL },
	{ NULL, 0, NULL, NULL, NULL },
};
