/* search.h — the SEARCH program (RFC 3501 6.4.4 keys, with the extensions
 * tern offers) shared by SEARCH, SORT, THREAD and the CONTEXT updates of
 * RFC 5267: search_parse.c reads it, search_eval.c runs it over the
 * selected view, cmd_search.c answers the commands. */
#ifndef TERN_IMAPD_SEARCH_H
#define TERN_IMAPD_SEARCH_H

#include "imapd/commands.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mi;

#define SEARCH_MAX_KEYS 256

enum sk { SK_ALL, SK_FLAG, SK_NOFLAG, SK_KEYWORD, SK_UNKEYWORD, SK_NEW, SK_OLD, SK_RECENT,
	  SK_BEFORE, SK_ON, SK_SINCE, SK_SENTBEFORE, SK_SENTON, SK_SENTSINCE, SK_LARGER,
	  SK_SMALLER, SK_MODSEQ, SK_HEADER, SK_BODY, SK_TEXT, SK_UID, SK_SEQ, SK_NOT, SK_OR, SK_AND,
	  SK_EMAILID, SK_THREADID };

struct skey {
	enum sk kind;
	uint32_t flag;
	int64_t num;		/* date (day number) or size */
	char *field, *str;
	bool cached;		/* HEADER: the index caches this field */
	bool addr;		/* FROM/TO/CC/BCC: match the addresses as text (mime_addr_text) */
	struct seqset set;
	struct skey *a, *b;	/* NOT: a; OR: a, b; AND: list via next */
	struct skey *next;
};

/* The day (since the epoch, UTC) of a time: what date keys compare. */
static inline int64_t day_of(int64_t t)
{
	return t >= 0 ? t / 86400 : (t - 86399) / 86400;
}

/* Parse search keys (strings converted from charset, NULL for US-ASCII/UTF-8)
 * up to the end of the command. NULL on a syntax error (ip->why says what)
 * or when a string cannot be converted (*badcharset). *modseq is set when a
 * MODSEQ key was used. */
struct skey *search_parse(struct ip *ip, const char *charset, bool *badcharset, bool *modseq);
void skey_free(struct skey *k);

/* Evaluate prog on every message of the view: *idx (malloc'd) receives the
 * matching view indexes, ascending; returns how many. */
size_t search_run(struct session *s, struct mi *mi, const struct skey *prog, size_t **idx);

#endif
