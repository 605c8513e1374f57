/* settings.c — httpd.conf: every setting of tern-httpd, declared once. */
#include "httpd/httpd.h"

#include <stddef.h>

const struct cfg_key httpd_settings[] = {
	{ "tls_cert", CFG_PATH, "tls/cert.pem", "TLS certificate chain (PEM) for HTTPS", NULL },
	{ "tls_key", CFG_PATH, "tls/key.pem", "TLS private key (PEM)", NULL },
	{ "public_host", CFG_STR, "", "Host name clients use for HTTPS (redirects, URLs in the JMAP session); empty: the instance's hostname", NULL },
	{ "max_clients", CFG_INT, "1000", "Connections the front process serves at once", NULL },
	{ "max_header_size", CFG_SIZE, "16k", "Largest request line plus header fields accepted", NULL },
	{ "request_timeout", CFG_TIME, "60s", "Time a client has to send a request (and to read a reply) before the connection is closed", NULL },
	{ "auth_cache_time", CFG_TIME, "5m", "How long a checked user name and password stay valid in the front process before authd is asked again", NULL },
	{ "session_idle_time", CFG_TIME, "10m", "A user's mail process ends after this long without requests or push listeners", NULL },
	{ "max_size_upload", CFG_SIZE, "50m", "JMAP maxSizeUpload: largest blob upload", NULL },
	{ "max_concurrent_upload", CFG_INT, "4", "JMAP maxConcurrentUpload: uploads one user may have in progress", NULL },
	{ "max_size_request", CFG_SIZE, "10m", "JMAP maxSizeRequest: largest API request body", NULL },
	{ "max_concurrent_requests", CFG_INT, "4", "JMAP maxConcurrentRequests: API requests one user may have in progress", NULL },
	{ "max_calls_in_request", CFG_INT, "32", "JMAP maxCallsInRequest: method calls in one API request", NULL },
	{ "max_objects_in_get", CFG_INT, "500", "JMAP maxObjectsInGet: ids one /get may ask for", NULL },
	{ "max_objects_in_set", CFG_INT, "500", "JMAP maxObjectsInSet: creations, updates and destructions in one /set", NULL },
	{ "event_ping_min", CFG_TIME, "30s", "Shortest ping interval a push (EventSource) client may ask for", NULL },
	{ NULL, 0, NULL, NULL, NULL },
};
