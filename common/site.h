/* site.h — this host's place in a site of several hosts (issue 16): its
 * role, its own name as the directory spells users' mailbox hosts, and the
 * mailbox hosts a front-end routes to, all from tern.conf:
 *
 *   role              both (one host, as before) | frontend | mailbox
 *   mailbox_host_name this host's name in the directory (empty: hostname)
 *   mailbox_hosts     NAME=ADDRESS:PORT, ...: where a front-end reaches the
 *                     internal port of each mailbox host
 *   site_secret_file  the secret a front-end gives at that port (AUTH PLAIN)
 *   site_frontends    on a mailbox host: who may connect to that port
 *   site_tls          none | verify: TLS on every hop, checked against
 *   site_ca_file      the site's own CA (site_link.h does the connecting)
 *
 * A front-end stores no mail: every user's mail goes to the mailbox host the
 * directory names. A mailbox host (or both) keeps the mail of users whose
 * mailbox host is itself or empty. */
#ifndef TERN_SITE_H
#define TERN_SITE_H

#include "common/userdb.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct instance;

enum site_role { SITE_BOTH, SITE_FRONTEND, SITE_MAILBOX };

#define SITE_MAX_HOSTS 256

struct site_host {
	char name[USERDB_MAX_HOST + 1];		/* as the directory names it (normalised) */
	char addr[INET6_ADDRSTRLEN];		/* IP literal: some roles run chrooted */
	uint16_t port;				/* its internal port */
};

struct site {
	enum site_role role;
	char self[USERDB_MAX_HOST + 1];		/* mailbox_host_name, or hostname */
	size_t nhosts;
	struct site_host *hosts;
	bool tls_verify;			/* site_tls = verify */
	char *ca_file;				/* site_ca_file as a path, NULL when unset */
};

/* The mailbox host the directory names for a user whose mail is being moved
 * (mailctl user move): no host has this name (.invalid, RFC 2606), so front-
 * ends keep the user's mail queued (4.3.5, retried), login roles answer "try
 * later", and no mailbox host takes or serves the user until the move names
 * the new host. mailbox_host_name and mailbox_hosts refuse it. */
#define SITE_HOLD_HOST "moving.invalid"

/* A mailbox host's other ports, from its internal one (port_base + 24): the
 * hosts of a site share the port layout of mailctl/procs.c. */
#define SITE_PORT_INTERNAL 24
#define SITE_PORT_POP3 110
#define SITE_PORT_IMAP 143
#define SITE_PORT_HTTPS 443
uint16_t site_service_port(const struct site_host *h, unsigned offset);
/* That service's address for connect() into ss; its length, 0 if h->addr is
 * not an IP literal. */
socklen_t site_service_sockaddr(const struct site_host *h, unsigned offset,
				struct sockaddr_storage *ss);

/* Parse one mailbox_hosts item "NAME=ADDRESS:PORT" ("[v6]:PORT" for IPv6);
 * false with why. */
bool site_parse_host(const char *item, struct site_host *h, char *why, size_t whylen);
/* cfg_check_fn for mailbox_hosts items and mailbox_host_name. */
bool site_host_item_check(const char *item, char *why, size_t whylen);
bool site_host_name_check(const char *text, char *why, size_t whylen);
const char *site_role_name(enum site_role r);

/* Read the site settings of tern.conf (already checked by the schema).
 * 0, or -1 with why (a duplicate name, this host listed as another,
 * site_tls = verify with mailbox hosts but no site_ca_file). */
int site_load(const struct instance *in, struct site *s, char *why, size_t whylen);
void site_free(struct site *s);

/* The site secret (site_secret_file; "" when unset), malloc'd, or NULL with
 * why. Read as root, before dropping privileges. */
char *site_secret_load(const struct instance *in, char *why, size_t whylen);
/* What a login role (imapd, pop3d, httpd) reads of the site, as root before
 * dropping privileges, fatal on an error: the site, its secret (*secret,
 * malloc'd; "" on a host of one, where nobody logs in for another) and
 * site_frontends (*frontends). true when the role may proxy to mailbox
 * hosts (then it needs TCP). */
struct netlist;
bool site_login_load(const struct instance *in, struct site *s, char **secret,
		     struct netlist *frontends);
/* Does given match the site secret (never when it is "")? Constant time in
 * the content. */
bool site_secret_equal(const char *secret, const char *given);

/* Is the mail of a user whose directory entry names host (normalised, ""
 * for none) stored on this host? Never on a front-end. */
bool site_is_local(const struct site *s, const char *host);
/* The mailbox host named host, or NULL when this site lists none of that name. */
const struct site_host *site_find(const struct site *s, const char *host);

#endif
