/* cfgcheck.c — value checks shared by several config schemas. */
#include "common/cfgcheck.h"
#include "common/userdb.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

bool cfg_check_domain(const char *text, char *why, size_t whylen)
{
	char norm[USERDB_MAX_DOMAIN + 1];
	if (userdb_norm_domain(text, norm))
		return true;
	snprintf(why, whylen, "is not a domain name");
	return false;
}

bool cfg_check_address(const char *text, char *why, size_t whylen)
{
	char norm[USERDB_MAX_ADDR];
	if (!*text || userdb_norm_address(text, norm))
		return true;
	snprintf(why, whylen, "is not an email address like user@example.org");
	return false;
}

bool cfg_check_ip(const char *text, char *why, size_t whylen)
{
	unsigned char buf[16];
	if (inet_pton(AF_INET, text, buf) == 1 || inet_pton(AF_INET6, text, buf) == 1)
		return true;
	snprintf(why, whylen, "is not an IPv4 or IPv6 address");
	return false;
}

static bool word_in(const char *w, size_t n, const char *choices)
{
	for (const char *p = choices; *p;) {
		size_t len = strcspn(p, ",");
		if (len == n && !strncmp(p, w, n))
			return true;
		p += len + (p[len] == ',');
	}
	return false;
}

bool cfg_check_domain_word(const char *item, const char *choices, char *why, size_t whylen)
{
	char domain[USERDB_MAX_DOMAIN + 1], norm[USERDB_MAX_DOMAIN + 1];
	const char *eq = strchr(item, '=');
	size_t dl = eq ? (size_t)(eq - item) : 0;
	const char *w = eq ? eq + 1 : "";
	size_t wl = strlen(w);
	if (dl && dl < sizeof domain) {
		memcpy(domain, item, dl);
		domain[dl] = '\0';
	}
	bool word_ok = wl && (choices ? word_in(w, wl, choices)
				      : strspn(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
						  "0123456789-_.") == wl);
	if (dl && dl < sizeof domain && userdb_norm_domain(domain, norm) && word_ok)
		return true;
	if (choices)
		snprintf(why, whylen, "is not domain=%s", choices);
	else
		snprintf(why, whylen, "is not domain=word");
	return false;
}
