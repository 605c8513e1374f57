/* pop3_cmd.h — the POP3 command table and line parser (RFC 1939, 2449, 2595,
 * 5034), shared by the login role (AUTHORIZATION state) and the session
 * process (TRANSACTION state). Pure functions: unit-tested on their own. */
#ifndef TERN_POP3_CMD_H
#define TERN_POP3_CMD_H

#include <stdbool.h>
#include <stddef.h>

enum pop3_cmd_id {
	CMD_UNKNOWN = 0,
	CMD_USER, CMD_PASS, CMD_AUTH, CMD_APOP, CMD_STLS, CMD_CAPA, CMD_QUIT,
	CMD_STAT, CMD_LIST, CMD_RETR, CMD_DELE, CMD_NOOP, CMD_RSET, CMD_TOP, CMD_UIDL,
	CMD_XCLIENT,
};

/* States a command is valid in (bit mask). */
#define POP3_ST_AUTH	1u	/* AUTHORIZATION: login role */
#define POP3_ST_TRANS	2u	/* TRANSACTION: session process */

#define POP3_MAX_ARGS	2

struct pop3_cmd_def {
	const char *name;
	enum pop3_cmd_id id;
	unsigned states;
	int min_args, max_args;
	bool rest;		/* one argument: the rest of the line, spaces included (PASS) */
};

enum pop3_parse {
	PARSE_OK,
	PARSE_UNKNOWN,		/* no such command: "-ERR unknown command" */
	PARSE_SYNTAX,		/* known command, wrong arguments */
	PARSE_EMPTY,		/* empty line */
};

struct pop3_cmd {
	const struct pop3_cmd_def *def;	/* NULL when unknown */
	int argc;
	const char *argv[POP3_MAX_ARGS];	/* point into the caller's line (modified) */
};

/* Parse line (NUL-terminated, without CRLF; modified in place). */
enum pop3_parse pop3_parse(char *line, struct pop3_cmd *out);
/* Message number argument: 1..max, or 0 when not a valid number. */
unsigned long pop3_msgnum(const char *arg, unsigned long max);
/* Non-negative count (TOP lines); false on junk. */
bool pop3_count(const char *arg, unsigned long *out);
/* True if s is safe to echo in a log line (printable ASCII, bounded). */
bool pop3_printable(const char *s, size_t max);

#endif
