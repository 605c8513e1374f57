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

#define HTTP_MAIL_SOCK "http-mail.sock"

int front_main(struct instance *in, struct cfg *conf);
int mail_main(struct instance *in, struct cfg *conf);

#endif
