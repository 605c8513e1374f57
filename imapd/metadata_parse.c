/* metadata_parse.c — the arguments of GETMETADATA and SETMETADATA (RFC 5464
 * 5, grammar in metadata.h), with no session (fuzz_imap runs it). */
#include "imapd/commands.h"
#include "imapd/metadata.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void md_req_free(struct md_req *r)
{
	free(r->mailbox);
	for (size_t i = 0; i < r->nentries; i++)
		free(r->entries[i]);
	free(r->entries);
	md_free(&r->changes);
	memset(r, 0, sizeof *r);
}

static int fail(const char **why, const char *msg)
{
	*why = msg;
	return -1;
}

/* "(" option *(SP option) ")" */
static int parse_options(struct ip *ip, struct md_req *r, const char **why)
{
	do {
		char *opt = ip_atom(ip);
		bool ok = opt && ip_sp(ip);
		if (ok && !strcasecmp(opt, "MAXSIZE")) {
			ok = ip_number(ip, UINT32_MAX, &r->maxsize);
		} else if (ok && !strcasecmp(opt, "DEPTH")) {
			char *d = ip_atom(ip);
			ok = d && (!strcmp(d, "0") || !strcmp(d, "1") || !strcasecmp(d, "infinity"));
			if (ok)
				r->depth = d[0] == '0' ? MD_DEPTH_0 : d[0] == '1' ? MD_DEPTH_1 : MD_DEPTH_INF;
			free(d);
		} else {
			ok = false;
		}
		free(opt);
		if (!ok)
			return fail(why, "Invalid GETMETADATA option");
	} while (ip_char(ip, ' '));
	return ip_char(ip, ')') ? 0 : fail(why, "Invalid GETMETADATA options");
}

static int add_entry(struct ip *ip, struct md_req *r, const char **why)
{
	char *e = ip_astring(ip, NULL);
	if (!e)
		return fail(why, "Expected an entry name");
	if (!md_entry_valid(e, true, why) || r->nentries >= MD_MAX_ARGS) {
		if (r->nentries >= MD_MAX_ARGS)
			*why = "Too many entries";
		free(e);
		return -1;
	}
	r->entries = xrealloc(r->entries, (r->nentries + 1) * sizeof *r->entries);
	r->entries[r->nentries++] = e;
	return 0;
}

int md_parse_get(struct ip *ip, struct md_req *r, const char **why)
{
	memset(r, 0, sizeof *r);
	*why = NULL;
	r->maxsize = UINT64_MAX;
	if (!ip_sp(ip))
		return fail(why, "Syntax: GETMETADATA [(options)] mailbox entries");
	if (ip_char(ip, '(') && (parse_options(ip, r, why) < 0 || !ip_sp(ip)))
		return fail(why, *why ? *why : "Syntax: GETMETADATA [(options)] mailbox entries");
	if (!(r->mailbox = arg_mailbox(ip)) || !ip_sp(ip))
		return fail(why, "Syntax: GETMETADATA [(options)] mailbox entries");
	if (!ip_char(ip, '('))
		return add_entry(ip, r, why) < 0 ? -1 : ip_eol(ip) ? 0 : fail(why, "Junk after entry");
	do {
		if (add_entry(ip, r, why) < 0)
			return -1;
	} while (ip_char(ip, ' '));
	if (!ip_char(ip, ')') || !ip_eol(ip))
		return fail(why, "Syntax: GETMETADATA [(options)] mailbox (entries)");
	return 0;
}

/* entry SP value, into r->changes */
static int parse_entry_value(struct ip *ip, struct md_req *r, const char **why)
{
	char *e = ip_astring(ip, NULL);
	if (!e || !ip_sp(ip)) {
		free(e);
		return fail(why, "Expected entry and value");
	}
	if (!md_entry_valid(e, false, why) || r->changes.n >= MD_MAX_ARGS) {
		if (r->changes.n >= MD_MAX_ARGS)
			*why = "Too many entries";
		free(e);
		return -1;
	}
	bool nil;
	size_t len = 0;
	char *v = ip_nstring(ip, &len, &nil);
	if (!v && !nil) {
		free(e);
		return fail(why, "Expected a value (string, literal or NIL)");
	}
	if (len > r->longest)
		r->longest = len;
	md_put(&r->changes, e, v, len);
	return 0;
}

int md_parse_set(struct ip *ip, struct md_req *r, const char **why)
{
	memset(r, 0, sizeof *r);
	*why = NULL;
	if (!ip_sp(ip) || !(r->mailbox = arg_mailbox(ip)) || !ip_sp(ip) || !ip_char(ip, '('))
		return fail(why, "Syntax: SETMETADATA mailbox (entry value ...)");
	do {
		if (parse_entry_value(ip, r, why) < 0)
			return -1;
	} while (ip_char(ip, ' '));
	if (!ip_char(ip, ')') || !ip_eol(ip))
		return fail(why, "Syntax: SETMETADATA mailbox (entry value ...)");
	return 0;
}
