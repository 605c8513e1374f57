/* queue_list.c — reading the lines of `queue list` (queued/admin.c
 * list_one writes them) for `mailctl user move`'s drain. */
#include "mailctl/queue_admin.h"

#include <string.h>
#include <strings.h>

/* Is rcpt (len bytes) local@domain, with or without a +detail? */
static bool names_address(const char *rcpt, size_t len, const char *local, size_t llen,
			  const char *domain)
{
	const char *at = memrchr(rcpt, '@', len);
	size_t dlen = strlen(domain);
	if (!at || len - (size_t)(at - rcpt) - 1 != dlen || strncasecmp(at + 1, domain, dlen))
		return false;
	size_t ll = (size_t)(at - rcpt);
	return ll >= llen && strncasecmp(rcpt, local, llen) == 0 &&
	       (ll == llen || rcpt[llen] == '+');
}

bool queue_list_active_for(const char *line, const char *address)
{
	const char *at = strrchr(address, '@');
	if (!at)
		return false;
	/* The last three fields, from the end: the sender may hold anything. */
	const char *end = line + strlen(line), *field[3];
	for (int k = 0; k < 3; k++) {
		const char *p = end;
		while (p > line && p[-1] != ' ')
			p--;
		if (p == line || p == end)
			return false;
		field[k] = p;
		end = p - 1;
	}
	/* field[0] NEXT, field[1] STATE, field[2] the recipients ("-": none) */
	if (strncmp(field[1], "active ", 7))
		return false;
	for (const char *r = field[2], *stop = field[1] - 1; r < stop;) {
		const char *comma = memchr(r, ',', (size_t)(stop - r));
		const char *e = comma ? comma : stop;
		if (names_address(r, (size_t)(e - r), address, (size_t)(at - address), at + 1))
			return true;
		r = e + 1;
	}
	return false;
}
