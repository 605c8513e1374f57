/* httpd.h — tern-httpd: mail over HTTP (JMAP, RFC 8620/8621), the
 * autoconfiguration and MTA-STS files, and the webmail page.
 *
 * Front role (`tern-httpd`, account tern-httpd, chrooted in run_dir): the only
 * process that parses HTTP. It answers the files that need no login itself,
 * redirects plain HTTP to HTTPS, checks credentials with authd, and passes
 * each authenticated JMAP request to that user's mail process over a Unix
 * socket (channel.h), relaying the answer.
 *
 * Mail role (`tern-httpd --mail`, account tern-vmail): accepts hand-offs on
 * RUN/http-mail.sock, checks the login token with the run secret and forks one
 * process per user, confined to that user's Maildir; it never sees HTTP. */
#ifndef TERN_HTTPD_H
#define TERN_HTTPD_H

#include "common/config.h"
#include "common/instance.h"

extern const struct cfg_key httpd_settings[];
/* A host name as the front role accepts it (public_host, mta_sts_mx). */
bool httpd_valid_host(const char *s);

#include <stdint.h>

#define HTTP_MAIL_SOCK "http-mail.sock"

/* What JMAP announces and enforces (RFC 8620 2, the "core" capability):
 * the front checks sizes and requests in flight, the mail processes the
 * rest; both read the same httpd.conf (jmap_limits_load). */
struct jmap_limits {
	uint64_t max_size_upload, max_concurrent_upload, max_size_request;
	uint64_t max_concurrent_requests, max_calls_in_request;
	uint64_t max_objects_in_get, max_objects_in_set;
};
void jmap_limits_load(struct jmap_limits *l, const struct cfg *conf);
/* "https://HOST[:PORT]" of this instance's HTTPS (public_host or hostname,
 * port_base + 443), malloc'd; NULL if public_host is not a host name. */
char *https_base_url(const struct instance *in, const struct cfg *conf);

int front_main(struct instance *in, struct cfg *conf);
int mail_main(struct instance *in, struct cfg *conf);

#endif
