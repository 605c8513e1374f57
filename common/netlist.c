/* netlist.c — CIDR lists from the configuration and matching against them. */
#include "common/netlist.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "ADDR" or "ADDR/LEN"; false with a reason when it is neither. */
static bool parse_net(const char *item, struct net *out, char *why, size_t whylen)
{
	char base[INET6_ADDRSTRLEN];
	const char *slash = strchr(item, '/');
	size_t bl = slash ? (size_t)(slash - item) : strlen(item);
	memset(out, 0, sizeof *out);
	if (bl == 0 || bl >= sizeof base) {
		snprintf(why, whylen, "is not an address or network (CIDR) like 192.0.2.0/24 or 2001:db8::/32");
		return false;
	}
	memcpy(base, item, bl);
	base[bl] = '\0';
	out->af = strchr(base, ':') ? AF_INET6 : AF_INET;
	unsigned bits = out->af == AF_INET ? 32 : 128;
	uint64_t plen = bits;
	if (inet_pton(out->af, base, out->addr) != 1) {
		snprintf(why, whylen, "is not an address or network (CIDR) like 192.0.2.0/24 or 2001:db8::/32");
		return false;
	}
	if (slash && !parse_u64(slash + 1, bits, &plen)) {
		snprintf(why, whylen, "has a bad prefix length (0 to %u)", bits);
		return false;
	}
	out->plen = (unsigned)plen;
	return true;
}

bool netlist_check(const char *item, char *why, size_t whylen)
{
	struct net n;
	return parse_net(item, &n, why, whylen);
}

void netlist_from_cfg(struct netlist *nl, const struct cfg *c, const char *key)
{
	char **items, why[128];
	size_t n = cfg_list(c, key, &items);
	nl->v = xcalloc(n ? n : 1, sizeof *nl->v);
	nl->n = 0;
	for (size_t i = 0; i < n; i++)
		if (parse_net(items[i], &nl->v[nl->n], why, sizeof why))
			nl->n++;
	cfg_list_free(items, n);
}

void netlist_free(struct netlist *nl)
{
	free(nl->v);
	memset(nl, 0, sizeof *nl);
}

static bool net_has(const struct net *n, int af, const unsigned char *a)
{
	if (n->af != af)
		return false;
	for (unsigned i = 0; i < n->plen; i++)
		if ((a[i / 8] ^ n->addr[i / 8]) & (0x80 >> (i % 8)))
			return false;
	return true;
}

static bool list_has(const struct netlist *nl, int af, const unsigned char *a)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (af == AF_INET6 && !memcmp(a, mapped, sizeof mapped)) {
		af = AF_INET;
		a += 12;
	}
	for (size_t i = 0; i < nl->n; i++)
		if (net_has(&nl->v[i], af, a))
			return true;
	return false;
}

bool netlist_has(const struct netlist *nl, const char *ip)
{
	unsigned char a[16];
	int af = strchr(ip, ':') ? AF_INET6 : AF_INET;
	return inet_pton(af, ip, a) == 1 && list_has(nl, af, a);
}

bool netlist_has_sa(const struct netlist *nl, const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return list_has(nl, AF_INET,
				(const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr);
	if (sa->sa_family == AF_INET6)
		return list_has(nl, AF_INET6,
				((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
	return false;
}

const char *netlist_plaintext_from_bool(const char *yes_no)
{
	return cfg_parse_bool(yes_no) == 1 ? NETLIST_LOOPBACK : "";
}
