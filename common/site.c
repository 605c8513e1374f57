/* site.c — role, own name and mailbox hosts of this host (site.h). */
#include "common/site.h"
#include "common/instance.h"
#include "common/log.h"
#include "common/netlist.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const role_names[] = { "both", "frontend", "mailbox" };

const char *site_role_name(enum site_role r)
{
	return role_names[r];
}

/* "ADDRESS:PORT" or "[V6]:PORT" into h->addr and h->port. */
static bool parse_addr_port(const char *text, struct site_host *h, char *why, size_t whylen)
{
	char addr[INET6_ADDRSTRLEN + 2];
	const char *colon = text[0] == '[' ? strstr(text, "]:") : strrchr(text, ':');
	const char *a = text[0] == '[' ? text + 1 : text;
	if (!colon || colon <= a || (size_t)(colon - a) >= sizeof addr) {
		snprintf(why, whylen, "is not NAME=ADDRESS:PORT");
		return false;
	}
	memcpy(addr, a, (size_t)(colon - a));
	addr[colon - a] = '\0';
	const char *port = colon + (text[0] == '[' ? 2 : 1);
	unsigned char ip[16];
	int af = text[0] == '[' ? AF_INET6 : AF_INET;
	if (inet_pton(af, addr, ip) != 1) {
		snprintf(why, whylen, "needs an IP address (%s), not a name: some roles run chrooted",
			 af == AF_INET6 ? "[IPv6]:PORT" : "IPv4:PORT");
		return false;
	}
	char *end;
	unsigned long p = strtoul(port, &end, 10);
	if (!*port || *end || p == 0 || p > 65535) {
		snprintf(why, whylen, "has no port from 1 to 65535");
		return false;
	}
	strlcpy_t(h->addr, addr, sizeof h->addr);
	h->port = (uint16_t)p;
	return true;
}

bool site_parse_host(const char *item, struct site_host *h, char *why, size_t whylen)
{
	char name[USERDB_MAX_HOST + 2];
	const char *eq = strchr(item, '=');
	memset(h, 0, sizeof *h);
	if (!eq || eq == item || (size_t)(eq - item) >= sizeof name) {
		snprintf(why, whylen, "is not NAME=ADDRESS:PORT");
		return false;
	}
	memcpy(name, item, (size_t)(eq - item));
	name[eq - item] = '\0';
	if (!userdb_norm_host(name, h->name)) {
		snprintf(why, whylen, "does not start with a host name or address");
		return false;
	}
	if (!strcmp(h->name, SITE_HOLD_HOST)) {
		snprintf(why, whylen, "names %s, the directory's mark of a user being moved",
			 SITE_HOLD_HOST);
		return false;
	}
	return parse_addr_port(eq + 1, h, why, whylen);
}

bool site_host_item_check(const char *item, char *why, size_t whylen)
{
	struct site_host h;
	return site_parse_host(item, &h, why, whylen);
}

bool site_host_name_check(const char *text, char *why, size_t whylen)
{
	char norm[USERDB_MAX_HOST + 1];
	if (!userdb_norm_host(text, norm)) {
		snprintf(why, whylen, "is not a host name or address");
		return false;
	}
	if (!strcmp(norm, SITE_HOLD_HOST)) {
		snprintf(why, whylen, "is %s, the directory's mark of a user being moved",
			 SITE_HOLD_HOST);
		return false;
	}
	return true;
}

static enum site_role parse_role(const char *text)
{
	for (size_t i = 0; i < ARRAY_LEN(role_names); i++)
		if (!strcmp(text, role_names[i]))
			return (enum site_role)i;
	return SITE_BOTH;	/* the schema allows nothing else */
}

/* The hosts of mailbox_hosts, each name once and not this host's own. */
static int load_hosts(const struct instance *in, struct site *s, char *why, size_t whylen)
{
	char **items;
	size_t total = cfg_list(&in->conf, "mailbox_hosts", &items);
	size_t n = total;
	int rc = 0;
	if (n > SITE_MAX_HOSTS) {
		snprintf(why, whylen, "mailbox_hosts lists %zu hosts, at most %d", n, SITE_MAX_HOSTS);
		n = 0, rc = -1;
	}
	s->hosts = xcalloc(n ? n : 1, sizeof *s->hosts);
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct site_host *h = &s->hosts[s->nhosts];
		char bad[200];
		if (!site_parse_host(items[i], h, bad, sizeof bad)) {
			snprintf(why, whylen, "mailbox_hosts: \"%s\" %s", items[i], bad);
			rc = -1;
		} else if (site_find(s, h->name)) {
			snprintf(why, whylen, "mailbox_hosts names %s twice", h->name);
			rc = -1;
		} else if (!strcmp(h->name, s->self)) {
			snprintf(why, whylen, "mailbox_hosts names this host itself (%s): its users' "
				 "mail would be relayed to itself", h->name);
			rc = -1;
		} else {
			s->nhosts++;
		}
	}
	cfg_list_free(items, total);
	return rc;
}

int site_load(const struct instance *in, struct site *s, char *why, size_t whylen)
{
	memset(s, 0, sizeof *s);
	s->role = parse_role(cfg_str(&in->conf, "role"));
	const char *self = cfg_str(&in->conf, "mailbox_host_name");
	if (!userdb_norm_host(*self ? self : in->hostname, s->self)) {
		snprintf(why, whylen, "mailbox_host_name: \"%s\" is not a host name", self);
		return -1;
	}
	if (load_hosts(in, s, why, whylen) < 0) {
		site_free(s);
		return -1;
	}
	s->tls_verify = !strcmp(cfg_str(&in->conf, "site_tls"), "verify");
	if (*cfg_str(&in->conf, "site_ca_file"))
		s->ca_file = cfg_path(&in->conf, "site_ca_file");
	if (s->tls_verify && s->nhosts && !s->ca_file) {
		snprintf(why, whylen, "site_tls = verify with mailbox_hosts needs site_ca_file, "
			 "the site's CA certificate");
		site_free(s);
		return -1;
	}
	return 0;
}

void site_free(struct site *s)
{
	free(s->hosts);
	s->hosts = NULL;
	s->nhosts = 0;
	free(s->ca_file);
	s->ca_file = NULL;
}

bool site_is_local(const struct site *s, const char *host)
{
	if (s->role == SITE_FRONTEND)
		return false;
	return !*host || !strcmp(host, s->self);
}

const struct site_host *site_find(const struct site *s, const char *host)
{
	for (size_t i = 0; i < s->nhosts; i++)
		if (!strcmp(s->hosts[i].name, host))
			return &s->hosts[i];
	return NULL;
}

uint16_t site_service_port(const struct site_host *h, unsigned offset)
{
	return (uint16_t)(h->port - SITE_PORT_INTERNAL + offset);
}

socklen_t site_service_sockaddr(const struct site_host *h, unsigned offset,
				struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof *ss);
	uint16_t port = htons(site_service_port(h, offset));
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, h->addr, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = port;
		return sizeof *v4;
	}
	if (inet_pton(AF_INET6, h->addr, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = port;
		return sizeof *v6;
	}
	return 0;
}

bool site_secret_equal(const char *secret, const char *given)
{
	size_t n = strlen(given);
	return secret[0] && n == strlen(secret) && CRYPTO_memcmp(given, secret, n) == 0;
}

char *site_secret_load(const struct instance *in, char *why, size_t whylen)
{
	if (!*cfg_str(&in->conf, "site_secret_file"))
		return xstrdup("");
	char *path = cfg_path(&in->conf, "site_secret_file");
	char *secret = secret_file_read(path, "site_secret_file", why, whylen);
	free(path);
	return secret;
}

bool site_login_load(const struct instance *in, struct site *s, char **secret,
		     struct netlist *frontends)
{
	char why[512];
	if (site_load(in, s, why, sizeof why) < 0)
		fatal("%s", why);
	*secret = site_secret_load(in, why, sizeof why);
	if (!*secret)
		fatal("%s", why);
	if (s->role == SITE_BOTH)
		(*secret)[0] = '\0';	/* one host: nobody logs in for another */
	netlist_from_cfg(frontends, &in->conf, "site_frontends");
	return s->nhosts > 0 && (*secret)[0];
}
