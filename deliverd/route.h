/* route.h — where mail for a domain goes: the relay host, or the domain's MX
 * hosts by preference (RFC 5321 5.1: implicit MX from A/AAAA, RFC 7505 null MX,
 * and no MX at or below our own preference, which would loop back to us). */
#ifndef TERN_ROUTE_H
#define TERN_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#define ROUTE_MAX_HOSTS 10
#define ROUTE_MAX_ADDRS 8

struct route_host {
	char name[256];
	unsigned pref;
	char addrs[ROUTE_MAX_ADDRS][64];
	size_t naddrs;
};

struct route {
	struct route_host hosts[ROUTE_MAX_HOSTS];
	size_t nhosts;
	unsigned port;
};

enum route_status {
	ROUTE_OK,
	ROUTE_DEFER,	/* temporary DNS failure: try later */
	ROUTE_BOUNCE,	/* no such domain, null MX, or a loop: permanent */
};

struct route_conf {
	const char *relayhost;	/* "", "host", "host:port", "[host]" or "[host]:port" */
	unsigned port;		/* SMTP port of MX hosts (25) */
	const char *myname;	/* our host name, for loop detection */
};

/* "host", "host:port", "[host]" or "[host]:port": name, port (25 when none),
 * and whether to look up MX records (not for [host]). False when malformed. */
bool route_parse_relayhost(const char *s, char *name, size_t namelen, unsigned *port,
			   bool *use_mx);
/* The check of deliverd.conf's relayhost (cfg_check_fn): the same parser. */
bool route_relayhost_check(const char *text, char *why, size_t whylen);

/* Fill r for domain; on DEFER/BOUNCE, status ("4.4.3", "5.1.10", ...) and why say
 * what happened. */
enum route_status route_lookup(const struct route_conf *c, const char *domain, struct route *r,
			       char status[8], char *why, size_t whylen);

#endif
