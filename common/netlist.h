/* netlist.h — lists of client networks from the configuration (CIDR items such
 * as "192.0.2.0/24", "2001:db8::/32" or a single address), matched against a
 * client's address. One parser for every such setting: `mailctl check` and the
 * daemons read them with the same code (netlist_check is the schema's check).
 *
 * plaintext_auth_networks is the one setting of every login service (smtpd,
 * pop3d, imapd) that says where a password may be sent without TLS; its old
 * per-daemon yes/no names are read as "loopback" with a warning. */
#ifndef TERN_NETLIST_H
#define TERN_NETLIST_H

#include "common/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct net {
	int af;			/* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned plen;		/* prefix length in bits */
};

struct netlist {
	size_t n;
	struct net *v;
};

#define NETLIST_LOOPBACK "127.0.0.0/8, ::1"

/* cfg_check_fn for one CIDR item. */
bool netlist_check(const char *item, char *why, size_t whylen);
/* The list under key (its items were checked when the file was loaded). */
void netlist_from_cfg(struct netlist *nl, const struct cfg *c, const char *key);
void netlist_free(struct netlist *nl);
/* Is the address (text, or a socket address) inside one of the networks? An
 * IPv4-mapped IPv6 address matches as the IPv4 address it carries. */
bool netlist_has(const struct netlist *nl, const char *ip);
bool netlist_has_sa(const struct netlist *nl, const struct sockaddr *sa);

/* Old yes/no plaintext settings: yes = loopback only, no = nowhere. */
const char *netlist_plaintext_from_bool(const char *yes_no);

#define CFG_KEY_PLAINTEXT_AUTH \
	CFG_KEY_LIST("plaintext_auth_networks", "", netlist_check, \
		     "Client networks (CIDR, comma-separated) that may log in with a password without TLS; " \
		     "empty: none. " NETLIST_LOOPBACK " is this host. Every other client must use TLS first")
#define CFG_KEY_PLAINTEXT_AUTH_OLD(old) \
	CFG_KEY_RENAMED(old, CFG_BOOL, "plaintext_auth_networks", netlist_plaintext_from_bool)

#endif
