/* append.h — the grammar of APPEND with MULTIAPPEND (RFC 3502) and CATENATE
 * (RFC 4469):
 *
 *   APPEND mailbox 1*(SP [flag-list SP] [date-time SP] data)
 *   data = literal / literal8 / "CATENATE" SP "(" cat-part *(SP cat-part) ")" /
 *          utf8-literal
 *   cat-part = "TEXT" SP literal / "URL" SP astring / utf8-literal
 *   utf8-literal = "UTF8" SP "(" literal8 ")"     (RFC 6855 4, UTF8=ACCEPT)
 *
 * The message and TEXT literals ("data literals") are never in the command
 * text: the reader spools each to a file as it arrives (cmd_append.c) and the
 * command keeps only its "{n}" announcement. The same parser runs on the
 * command so far whenever a literal is announced (to tell a data literal
 * from a mailbox name or URL given as a literal) and on the whole command. */
#ifndef TERN_IMAPD_APPEND_H
#define TERN_IMAPD_APPEND_H

#include "imapd/parser.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define APPEND_MAX_MESSAGES	1000	/* messages in one MULTIAPPEND */
#define CATENATE_MAX_PARTS	100	/* parts of one CATENATE message */

struct append_part {
	char *url;		/* a URL part, else a data literal */
	uint64_t len;		/* data literal: its octets */
	size_t spool;		/* data literal with len > 0: its spool file's index */
	bool binary;		/* data literal sent as literal8 (RFC 3516 "~{n}") */
};

struct append_msg {
	uint32_t flags;
	char *kw;		/* space-separated keywords, "" when none */
	int64_t idate;
	bool catenate;
	struct append_part *parts;	/* one data literal when !catenate */
	size_t nparts;
};

struct append_cmd {
	char *name;		/* target folder, as stored */
	struct append_msg *m;
	size_t n;
	size_t nspool;		/* data literals with octets (spooled, in order) */
	bool utf8;		/* a UTF8 (literal8) data item was given */
};

enum append_parsed {
	AP_DONE,	/* the whole command parsed */
	AP_DATA,	/* (prefix) the literal announced last is a data literal */
	AP_OTHER,	/* (prefix) it is a mailbox name or URL: it belongs inline */
	AP_SYNTAX,	/* malformed */
	AP_LIMIT,	/* too many messages or parts */
};

/* Parse the arguments after "APPEND" (ip just past the command name). With
 * prefix, ip holds the command up to a literal announcement just received
 * ("{n}" at its end, the octets not yet there). c is filled as far as read;
 * free it with append_cmd_free in every case. */
enum append_parsed append_parse(struct ip *ip, bool prefix, struct append_cmd *c);
void append_cmd_free(struct append_cmd *c);

#endif
