/* route.c — relay host and MX resolution through common/dns. */
#include "deliverd/route.h"
#include "common/dns.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool inet_pton_any(const char *s, unsigned char *b)
{
	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/* Addresses of host (IPv4 first, then IPv6). */
static enum dns_status host_addrs(struct route_host *h)
{
	size_t n4 = 0, n6 = 0;
	enum dns_status s4 = dns_a(h->name, h->addrs, ROUTE_MAX_ADDRS, &n4);
	enum dns_status s6 = DNS_NODATA;
	if (n4 < ROUTE_MAX_ADDRS)
		s6 = dns_aaaa(h->name, h->addrs + n4, ROUTE_MAX_ADDRS - n4, &n6);
	h->naddrs = n4 + n6;
	if (h->naddrs)
		return DNS_OK;
	if (s4 == DNS_TEMPFAIL || s6 == DNS_TEMPFAIL)
		return DNS_TEMPFAIL;
	return s4 == DNS_NXDOMAIN ? DNS_NXDOMAIN : DNS_NODATA;
}

static void set(char status[8], const char *st, char *why, size_t whylen, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void set(char status[8], const char *st, char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;
	snprintf(status, 8, "%s", st);
	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
}

bool route_parse_relayhost(const char *s, char *name, size_t namelen, unsigned *port,
			   bool *use_mx)
{
	const char *colon, *end = s + strlen(s);
	*use_mx = s[0] != '[';
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || (rb[1] && rb[1] != ':'))
			return false;
		s++;
		end = rb;
		colon = rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = strrchr(s, ':');
		if (colon)
			end = colon;
	}
	size_t n = (size_t)(end - s);
	uint64_t p = 25;
	if (n == 0 || n >= namelen || (colon && !parse_u64(colon + 1, 65535, &p)) || p == 0)
		return false;
	memcpy(name, s, n);
	name[n] = '\0';
	*port = (unsigned)p;
	return true;
}

bool route_relayhost_check(const char *text, char *why, size_t whylen)
{
	char name[256];
	unsigned port;
	bool use_mx;
	if (!*text || route_parse_relayhost(text, name, sizeof name, &port, &use_mx))
		return true;
	snprintf(why, whylen, "is not host, host:port, [host] or [host]:port (port 1 to 65535)");
	return false;
}

/* The relay host setting into r; MX lookup unless bracketed. */
static enum route_status relay_route(const struct route_conf *c, struct route *r, char status[8],
				     char *why, size_t whylen, char *name, size_t namelen, bool *use_mx)
{
	if (!route_parse_relayhost(c->relayhost, name, namelen, &r->port, use_mx)) {
		set(status, "4.3.5", why, whylen, "bad relayhost setting \"%s\"", c->relayhost);
		return ROUTE_DEFER;
	}
	return ROUTE_OK;
}

static enum route_status mx_route(const struct route_conf *c, const char *domain, struct route *r,
				  char status[8], char *why, size_t whylen)
{
	struct dns_mx mx[ROUTE_MAX_HOSTS];
	size_t n = 0;
	enum dns_status st = dns_mx(domain, mx, ROUTE_MAX_HOSTS, &n);
	if (st == DNS_TEMPFAIL) {
		set(status, "4.4.3", why, whylen, "temporary failure looking up MX of %s", domain);
		return ROUTE_DEFER;
	}
	if (st == DNS_OK && n == 1 && mx[0].pref == 0 &&
	    (mx[0].host[0] == '\0' || !strcmp(mx[0].host, "."))) {
		set(status, "5.1.10", why, whylen, "domain %s accepts no mail (null MX)", domain);
		return ROUTE_BOUNCE;
	}
	if (st != DNS_OK || n == 0) {
		/* Implicit MX: the domain itself (RFC 5321 5.1). */
		snprintf(mx[0].host, sizeof mx[0].host, "%s", domain);
		mx[0].pref = 0;
		n = 1;
		if (st == DNS_NXDOMAIN) {
			set(status, "5.1.2", why, whylen, "domain %s does not exist", domain);
			return ROUTE_BOUNCE;
		}
	}
	/* Drop MX hosts at or after our own preference: they would send it back. */
	for (size_t i = 0; i < n; i++) {
		if (c->myname && !strcasecmp(mx[i].host, c->myname)) {
			if (i == 0) {
				set(status, "5.4.6", why, whylen,
				    "mail for %s loops back to myself (best MX is this host)", domain);
				return ROUTE_BOUNCE;
			}
			unsigned mine = mx[i].pref;
			while (n > 0 && mx[n - 1].pref >= mine)
				n--;
			break;
		}
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(r->hosts[r->nhosts].name, sizeof r->hosts[0].name, "%s", mx[i].host);
		r->hosts[r->nhosts++].pref = mx[i].pref;
	}
	return ROUTE_OK;
}

enum route_status route_lookup(const struct route_conf *c, const char *domain, struct route *r,
			       char status[8], char *why, size_t whylen)
{
	memset(r, 0, sizeof *r);
	r->port = c->port;
	enum route_status rs;
	if (c->relayhost && *c->relayhost) {
		char name[256];
		bool use_mx;
		rs = relay_route(c, r, status, why, whylen, name, sizeof name, &use_mx);
		if (rs != ROUTE_OK)
			return rs;
		unsigned port = r->port;
		if (use_mx) {
			rs = mx_route(c, name, r, status, why, whylen);
		} else {
			snprintf(r->hosts[0].name, sizeof r->hosts[0].name, "%s", name);
			r->nhosts = 1;
			rs = ROUTE_OK;
		}
		r->port = port;
		if (rs == ROUTE_BOUNCE)	/* a broken relay host is our problem, not the sender's */
			rs = ROUTE_DEFER;
	} else {
		rs = mx_route(c, domain, r, status, why, whylen);
	}
	if (rs != ROUTE_OK)
		return rs;
	bool tempfail = false;
	size_t usable = 0;
	for (size_t i = 0; i < r->nhosts; i++) {
		struct route_host *h = &r->hosts[i];
		unsigned char b[16];
		if (inet_pton_any(h->name, b)) {	/* an address literal */
			snprintf(h->addrs[0], sizeof h->addrs[0], "%s", h->name);
			h->naddrs = 1;
		} else if (host_addrs(h) == DNS_TEMPFAIL) {
			tempfail = true;
		}
		usable += h->naddrs > 0;
	}
	if (!usable) {
		if (tempfail)
			set(status, "4.4.3", why, whylen,
			    "temporary failure resolving the mail hosts of %s", domain);
		else
			set(status, "4.4.4", why, whylen, "no address for any mail host of %s", domain);
		return ROUTE_DEFER;
	}
	return ROUTE_OK;
}
