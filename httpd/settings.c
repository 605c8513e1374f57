/* settings.c — httpd.conf: every setting of tern-httpd, declared once. */
#include "httpd/httpd.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

bool httpd_valid_host(const char *s)
{
	if (!*s || strlen(s) > 253)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '.')
			return false;
	return true;
}

static bool check_host(const char *text, char *why, size_t whylen)
{
	if (!*text || httpd_valid_host(text))
		return true;
	snprintf(why, whylen, "is not a host name");
	return false;
}
#include "common/util.h"

#include <stddef.h>

const struct cfg_key httpd_settings[] = {
	CFG_KEY_PATH("tls_cert", "tls/cert.pem", "TLS certificate chain (PEM) for HTTPS"),
	CFG_KEY_PATH("tls_key", "tls/key.pem", "TLS private key (PEM)"),
	CFG_KEY_STR("public_host", "", check_host, "Host name clients use for HTTPS (redirects, URLs in the JMAP session); empty: the instance's hostname"),
	CFG_KEY_INT("max_sessions", "1000", 1, 1000000, "Connections the front process serves at once"),
	CFG_KEY_RENAMED("max_clients", CFG_INT, "max_sessions", NULL),
	CFG_KEY_SIZE("max_header_size", "16k", 1024, 1024 * 1024, "Largest request line plus header fields accepted"),
	CFG_KEY_TIME("request_timeout", "60s", 1, 3600, "Time a client has to send a request (and to read a reply) before the connection is closed"),
	CFG_KEY_TIME("auth_cache_time", "5m", 0, 86400, "How long a checked user name and password stay valid in the front process before authd is asked again"),
	CFG_KEY_TIME("session_idle_time", "10m", 1, 86400, "A user's mail process ends after this long without requests or push listeners"),
	CFG_KEY_SIZE("max_size_upload", "50m", 1024, 2ull << 30, "JMAP maxSizeUpload: largest blob upload"),
	CFG_KEY_INT("max_concurrent_upload", "4", 1, 1000, "JMAP maxConcurrentUpload: uploads one user may have in progress"),
	CFG_KEY_SIZE("max_size_request", "10m", 1024, 1ull << 30, "JMAP maxSizeRequest: largest API request body"),
	CFG_KEY_INT("max_concurrent_requests", "4", 1, 1000, "JMAP maxConcurrentRequests: API requests one user may have in progress"),
	CFG_KEY_INT("max_calls_in_request", "32", 1, 10000, "JMAP maxCallsInRequest: method calls in one API request"),
	CFG_KEY_INT("max_objects_in_get", "500", 1, 100000, "JMAP maxObjectsInGet: ids one /get may ask for"),
	CFG_KEY_INT("max_objects_in_set", "500", 1, 100000, "JMAP maxObjectsInSet: creations, updates and destructions in one /set"),
	CFG_KEY_TIME("event_ping_min", "30s", 1, 3600, "Shortest ping interval a push (EventSource) client may ask for"),
	CFG_KEY_END,
};

void jmap_limits_load(struct jmap_limits *l, const struct cfg *conf)
{
	*l = (struct jmap_limits){
		.max_size_upload = cfg_int(conf, "max_size_upload"),
		.max_concurrent_upload = cfg_int(conf, "max_concurrent_upload"),
		.max_size_request = cfg_int(conf, "max_size_request"),
		.max_concurrent_requests = cfg_int(conf, "max_concurrent_requests"),
		.max_calls_in_request = cfg_int(conf, "max_calls_in_request"),
		.max_objects_in_get = cfg_int(conf, "max_objects_in_get"),
		.max_objects_in_set = cfg_int(conf, "max_objects_in_set"),
	};
}

char *https_base_url(const struct instance *in, const struct cfg *conf)
{
	const char *host = cfg_str(conf, "public_host");
	if (!*host)
		host = in->hostname;
	if (!httpd_valid_host(host))
		return NULL;
	unsigned port = in->port_base + PORT_HTTPS;
	return port == 443 ? xasprintf("https://%s", host) : xasprintf("https://%s:%u", host, port);
}
