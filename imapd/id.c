/* id.c — RFC 2971 ID arguments (see id.h). */
#include "imapd/id.h"
#include "imapd/parser.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One "field SP value" pair; NULL or the BAD text. The value of
 * x-originating-ip goes to origin when it is an IP address. */
static const char *id_pair(struct ip *ip, char *origin, size_t originlen)
{
	size_t flen = 0, vlen = 0;
	bool nil = false;	/* ip_nstring sets it only when it is reached */
	char *field = ip_string(ip, &flen);
	char *value = field && ip_sp(ip) ? ip_nstring(ip, &vlen, &nil) : NULL;
	bool ok = field && (value || nil) && !ip->bad;
	unsigned char a[16];
	if (ok && origin && value && !strcasecmp(field, "x-originating-ip") && vlen < originlen &&
	    (inet_pton(AF_INET, value, a) == 1 || inet_pton(AF_INET6, value, a) == 1))
		memcpy(origin, value, vlen + 1);
	free(field);
	free(value);
	if (!ok)
		return "Syntax: ID (field value ...) or ID NIL";
	if (flen > ID_MAX_FIELD || vlen > ID_MAX_VALUE)
		return "ID field over 30 or value over 1024 octets (RFC 2971)";
	return NULL;
}

const char *id_check(struct ip *ip)
{
	return id_read(ip, NULL, 0);
}

const char *id_read(struct ip *ip, char *origin, size_t originlen)
{
	static const char syntax[] = "Syntax: ID (field value ...) or ID NIL";
	bool nil;
	if (!ip_sp(ip))
		return syntax;
	if (!ip_char(ip, '(')) {
		free(ip_nstring(ip, NULL, &nil));
		return nil && ip_eol(ip) ? NULL : syntax;
	}
	for (int n = 0; !ip_char(ip, ')'); n++) {
		if (n == ID_MAX_PAIRS)
			return "More than 30 ID pairs (RFC 2971)";
		if (n && !ip_sp(ip))
			return syntax;
		const char *why = id_pair(ip, origin, originlen);
		if (why)
			return why;
	}
	return ip_eol(ip) ? NULL : syntax;
}
