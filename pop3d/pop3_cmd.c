/* pop3_cmd.c — command table and parser. */
#include "pop3d/pop3_cmd.h"
#include "common/util.h"

#include <ctype.h>
#include <strings.h>
#include <string.h>

static const struct pop3_cmd_def cmds[] = {
	{ "USER", CMD_USER, POP3_ST_AUTH, 1, 1, false },
	{ "PASS", CMD_PASS, POP3_ST_AUTH, 1, 1, true },
	{ "AUTH", CMD_AUTH, POP3_ST_AUTH, 0, 2, false },
	{ "APOP", CMD_APOP, POP3_ST_AUTH, 2, 2, false },
	{ "STLS", CMD_STLS, POP3_ST_AUTH, 0, 0, false },
	{ "CAPA", CMD_CAPA, POP3_ST_AUTH | POP3_ST_TRANS, 0, 0, false },
	{ "QUIT", CMD_QUIT, POP3_ST_AUTH | POP3_ST_TRANS, 0, 0, false },
	{ "STAT", CMD_STAT, POP3_ST_TRANS, 0, 0, false },
	{ "LIST", CMD_LIST, POP3_ST_TRANS, 0, 1, false },
	{ "RETR", CMD_RETR, POP3_ST_TRANS, 1, 1, false },
	{ "DELE", CMD_DELE, POP3_ST_TRANS, 1, 1, false },
	{ "NOOP", CMD_NOOP, POP3_ST_TRANS, 0, 0, false },
	{ "RSET", CMD_RSET, POP3_ST_TRANS, 0, 0, false },
	{ "TOP", CMD_TOP, POP3_ST_TRANS, 2, 2, false },
	{ "UIDL", CMD_UIDL, POP3_ST_TRANS, 0, 1, false },
	/* a front-end of the site names its client (login_cmd.c) */
	{ "XCLIENT", CMD_XCLIENT, POP3_ST_AUTH, 1, 1, false },
};

static const struct pop3_cmd_def *lookup(const char *kw)
{
	for (size_t i = 0; i < ARRAY_LEN(cmds); i++)
		if (!strcasecmp(cmds[i].name, kw))
			return &cmds[i];
	return NULL;
}

/* Next space-separated word; NUL-terminates it and advances *p. */
static char *next_word(char **p)
{
	char *s = *p;
	while (*s == ' ')
		s++;
	if (!*s) {
		*p = s;
		return NULL;
	}
	char *w = s;
	while (*s && *s != ' ')
		s++;
	if (*s)
		*s++ = '\0';
	*p = s;
	return w;
}

enum pop3_parse pop3_parse(char *line, struct pop3_cmd *out)
{
	memset(out, 0, sizeof *out);
	char *p = line;
	char *kw = next_word(&p);
	if (!kw)
		return PARSE_EMPTY;
	out->def = lookup(kw);
	if (!out->def)
		return PARSE_UNKNOWN;
	if (out->def->rest) {
		/* RFC 1939 7: a server may treat spaces in the PASS argument as part
		 * of the password. Exactly one separating space is consumed. */
		if (*p)
			out->argv[out->argc++] = p;
	} else {
		char *w;
		while ((w = next_word(&p))) {
			if (out->argc == out->def->max_args)
				return PARSE_SYNTAX;
			out->argv[out->argc++] = w;
		}
	}
	if (out->argc < out->def->min_args)
		return PARSE_SYNTAX;
	return PARSE_OK;
}

bool pop3_count(const char *arg, unsigned long *out)
{
	uint64_t v;
	if (!arg || !isdigit((unsigned char)*arg) || !parse_u64(arg, 1000000000, &v))
		return false;
	*out = (unsigned long)v;
	return true;
}

unsigned long pop3_msgnum(const char *arg, unsigned long max)
{
	unsigned long n;
	if (!pop3_count(arg, &n) || n == 0 || n > max)
		return 0;
	return n;
}

bool pop3_printable(const char *s, size_t max)
{
	size_t n = 0;
	for (; *s; s++, n++)
		if (n >= max || *s < 0x21 || *s > 0x7e)
			return false;
	return true;
}
