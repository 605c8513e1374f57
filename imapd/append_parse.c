/* append_parse.c — the arguments of APPEND, MULTIAPPEND and CATENATE
 * (grammar in append.h). */
#include "imapd/append.h"
#include "imapd/commands.h"
#include "common/mailindex.h"
#include "common/util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void append_cmd_free(struct append_cmd *c)
{
	for (size_t i = 0; i < c->n; i++) {
		for (size_t k = 0; k < c->m[i].nparts; k++)
			free(c->m[i].parts[k].url);
		free(c->m[i].parts);
		free(c->m[i].kw);
	}
	free(c->m);
	free(c->name);
	memset(c, 0, sizeof *c);
}

/* Is what is left exactly the announcement of the literal still to come
 * ("{n}", "{n+}", "~{n}"; the command so far ends there)? */
static bool at_pending_literal(const struct ip *ip)
{
	const char *p = ip->p;
	if (ip->bad)
		return false;
	if (p < ip->end && *p == '~')
		p++;
	if (p >= ip->end || *p++ != '{')
		return false;
	const char *digits = p;
	while (p < ip->end && isdigit((unsigned char)*p))
		p++;
	if (p == digits)
		return false;
	if (p < ip->end && *p == '+')
		p++;
	return p + 1 == ip->end && *p == '}';
}

/* A data literal: its announcement (the octets are spooled elsewhere). */
static enum append_parsed data_literal(struct ip *ip, bool prefix, struct append_cmd *c,
				       struct append_msg *m)
{
	if (m->nparts >= CATENATE_MAX_PARTS)
		return AP_LIMIT;
	struct append_part p = { 0 };
	p.spool = c->nspool;
	p.binary = ip_peek(ip, '~');
	bool pending = prefix && at_pending_literal(ip);
	if (!pending && !ip_literal_header(ip, &p.len))
		return AP_SYNTAX;
	if (pending || p.len > 0)
		c->nspool++;
	m->parts = xrealloc(m->parts, (m->nparts + 1) * sizeof *m->parts);
	m->parts[m->nparts++] = p;
	return pending ? AP_DATA : AP_DONE;
}

/* "UTF8" SP "(" literal8 ")" (RFC 6855 4), after "UTF8": a message (or a
 * CATENATE part) whose header fields may hold UTF-8. */
static enum append_parsed utf8_literal(struct ip *ip, bool prefix, struct append_cmd *c,
				       struct append_msg *m)
{
	c->utf8 = true;
	if (!ip_sp(ip) || !ip_char(ip, '(') || !ip_peek(ip, '~'))
		return AP_SYNTAX;
	enum append_parsed r = data_literal(ip, prefix, c, m);
	if (r == AP_DONE && !ip_char(ip, ')'))
		return AP_SYNTAX;
	return r;
}

static enum append_parsed url_part(struct ip *ip, bool prefix, struct append_msg *m)
{
	if (m->nparts >= CATENATE_MAX_PARTS)
		return AP_LIMIT;
	if (prefix && at_pending_literal(ip))
		return AP_OTHER;
	char *url = ip_astring(ip, NULL);
	if (!url)
		return AP_SYNTAX;
	m->parts = xrealloc(m->parts, (m->nparts + 1) * sizeof *m->parts);
	m->parts[m->nparts++] = (struct append_part){ .url = url };
	return AP_DONE;
}

/* "(" cat-part *(SP cat-part) ")" */
static enum append_parsed catenate_list(struct ip *ip, bool prefix, struct append_cmd *c,
					struct append_msg *m)
{
	m->catenate = true;
	if (!ip_sp(ip) || !ip_char(ip, '('))
		return AP_SYNTAX;
	for (;;) {
		char *kind = ip_atom(ip);
		enum append_parsed r = AP_SYNTAX;
		if (kind && !strcasecmp(kind, "TEXT") && ip_sp(ip))
			r = data_literal(ip, prefix, c, m);
		else if (kind && !strcasecmp(kind, "URL") && ip_sp(ip))
			r = url_part(ip, prefix, m);
		else if (kind && !strcasecmp(kind, "UTF8"))
			r = utf8_literal(ip, prefix, c, m);
		free(kind);
		if (r != AP_DONE)
			return r;
		if (ip_char(ip, ')'))
			return AP_DONE;
		if (!ip_sp(ip))
			return AP_SYNTAX;
	}
}

/* [flag-list SP] [date-time SP] data */
static enum append_parsed one_message(struct ip *ip, bool prefix, struct append_cmd *c)
{
	if (c->n >= APPEND_MAX_MESSAGES)
		return AP_LIMIT;
	c->m = xrealloc(c->m, (c->n + 1) * sizeof *c->m);
	struct append_msg *m = &c->m[c->n++];
	memset(m, 0, sizeof *m);
	m->idate = (int64_t)time(NULL);
	char kw[MI_MAX_KEYWORDS_LEN + 1];
	if (ip_peek(ip, '(')) {
		if (!parse_flags(ip, true, &m->flags, kw, sizeof kw) || !ip_sp(ip))
			return AP_SYNTAX;
		m->kw = xstrdup(kw);
	} else {
		m->kw = xstrdup("");
	}
	if (ip_peek(ip, '"')) {
		char *date = ip_string(ip, NULL);
		m->idate = date ? parse_imap_date(date, true) : -1;
		free(date);
		if (m->idate < 0 || !ip_sp(ip))
			return AP_SYNTAX;
	}
	if (ip_peek(ip, '{') || ip_peek(ip, '~'))
		return data_literal(ip, prefix, c, m);
	char *a = ip_atom(ip);
	bool cat = a && !strcasecmp(a, "CATENATE"), utf8 = a && !strcasecmp(a, "UTF8");
	free(a);
	if (utf8)
		return utf8_literal(ip, prefix, c, m);
	return cat ? catenate_list(ip, prefix, c, m) : AP_SYNTAX;
}

enum append_parsed append_parse(struct ip *ip, bool prefix, struct append_cmd *c)
{
	memset(c, 0, sizeof *c);
	if (!ip_sp(ip))
		return AP_SYNTAX;
	if (prefix && at_pending_literal(ip))
		return AP_OTHER;	/* the mailbox name */
	if (!(c->name = arg_mailbox(ip)))
		return AP_SYNTAX;
	do {
		if (!ip_sp(ip))
			return AP_SYNTAX;
		enum append_parsed r = one_message(ip, prefix, c);
		if (r != AP_DONE)
			return r;
	} while (!ip_eol(ip));
	/* a prefix always ends in a literal announcement: not here */
	return prefix ? AP_SYNTAX : AP_DONE;
}
