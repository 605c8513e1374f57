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
	  SK_SMALLER, SK_OLDER, SK_YOUNGER, SK_MODSEQ, SK_HEADER, SK_BODY, SK_TEXT, SK_UID, SK_SEQ,
	  SK_NOT, SK_OR, SK_AND, SK_EMAILID, SK_THREADID, SK_SAVEDBEFORE, SK_SAVEDON,
	  SK_SAVEDSINCE, SK_SAVEDATESUPPORTED };

struct skey {
	enum sk kind;
	uint32_t flag;
	int64_t num;		/* date (day number), size, or time (OLDER/YOUNGER) */
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

/* RETURN options of SEARCH and SORT (RFC 4731, RFC 5182, RFC 5267). */
enum { RET_MIN = 1, RET_MAX = 2, RET_COUNT = 4, RET_ALL = 8, RET_SAVE = 16, RET_PARTIAL = 32,
       RET_UPDATE = 64 };
struct search_ret {
	unsigned opts;
	bool esearch;		/* RETURN was given: the answer is an ESEARCH response */
	uint32_t plo, phi;	/* PARTIAL range, plo <= phi */
};
/* The list after "RETURN " and the space after it; false on a syntax error
 * (unknown or repeated option, PARTIAL without a range or with ALL). */
bool search_parse_return(struct ip *ip, struct search_ret *r);
/* "* ESEARCH (TAG ..." for hits (numbers or UIDs in the order requested:
 * mailbox order for SEARCH, sort order for SORT); MODSEQ when modseq. */
void search_reply_esearch(struct session *s, const uint32_t *hits, size_t n, const struct search_ret *r,
			  bool uid, uint64_t modseq);
/* RETURN (SAVE): keep hits as "$" (RFC 5182); a failed command forgets it. */
void search_save_result(struct session *s, const uint32_t *hits, size_t n, unsigned opts, bool uid);
void search_forget_result(struct session *s, const struct search_ret *r);

/* Parse search keys (converted from charset) to the end of the command and
 * evaluate them on the selected folder: *idx receives the matching view
 * indexes, *mi the open index (caller closes), *keep (unless NULL) the
 * program. 0, -1 syntax error, -2 bad charset, -3 folder unavailable. */
int search_select(struct session *s, struct ip *ip, const char *charset, struct mi **mi,
		  size_t **idx, size_t *n, struct skey **keep);

/* Evaluate prog on every message of the view: *idx (malloc'd) receives the
 * matching view indexes, ascending; returns how many. */
size_t search_run(struct session *s, struct mi *mi, const struct skey *prog, size_t **idx);
/* Make prog mean the same later: message numbers, "$" and "*" become the
 * UIDs they name in v now (RFC 5267 4.3: a context's sequence numbers are
 * those of its command). */
void search_freeze(struct skey *prog, const struct view *v);
/* The same for the view indexes idx[0..n) only (ascending): out[k] tells
 * whether message idx[k] matches. */
void search_match(struct session *s, struct mi *mi, const struct skey *prog, const size_t *idx, size_t n,
		  bool *out);

#endif
