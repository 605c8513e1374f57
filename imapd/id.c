/* id.c — RFC 2971 ID arguments (see id.h). */
#include "imapd/id.h"
#include "imapd/parser.h"

#include <stdbool.h>
#include <stdlib.h>

/* One "field SP value" pair; NULL or the BAD text. */
static const char *id_pair(struct ip *ip)
{
	size_t flen = 0, vlen = 0;
	bool nil = false;	/* ip_nstring sets it only when it is reached */
	char *field = ip_string(ip, &flen);
	char *value = field && ip_sp(ip) ? ip_nstring(ip, &vlen, &nil) : NULL;
	bool ok = field && (value || nil) && !ip->bad;
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
		const char *why = id_pair(ip);
		if (why)
			return why;
	}
	return ip_eol(ip) ? NULL : syntax;
}
