/* fetch_parse.h — the grammar of FETCH (RFC 3501 6.4.5 and 9, with BINARY,
 * CONDSTORE/QRESYNC modifiers, OBJECTID, SAVEDATE and PREVIEW items): the
 * attribute list read into a request cmd_fetch.c answers. Kept apart from
 * the answering so the fuzzer reaches it. */
#ifndef TERN_IMAPD_FETCH_PARSE_H
#define TERN_IMAPD_FETCH_PARSE_H

#include "imapd/parser.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FETCH_MAX_ITEMS 64
#define PREVIEW_MAX_MODS 4

enum fkind { F_ENVELOPE, F_FLAGS, F_INTERNALDATE, F_SIZE, F_UID, F_BODY, F_BODYSTRUCTURE,
	     F_SECTION, F_MODSEQ, F_BINARY, F_BINSIZE, F_EMAILID, F_THREADID, F_SAVEDATE,
	     F_PREVIEW };

struct fitem {
	enum fkind kind;
	char *name;		/* response label, e.g. "BODY[1.2]" or "RFC822.HEADER" */
	char *section;		/* F_SECTION: spec inside [] */
	bool peek, partial;
	bool lazy;		/* F_PREVIEW (LAZY): only what the index holds */
	uint64_t start, len;
};

struct freq {
	struct fitem it[FETCH_MAX_ITEMS];
	size_t n;
	bool need_body, sets_seen, has_flags, has_uid, has_modseq;
	bool changedsince, vanished;
	uint64_t since;
};

/* The attribute list (one item, a macro, or "(item ...)") into r; false on
 * a syntax error. Free r with freq_free either way. */
bool fetch_parse_atts(struct ip *ip, struct freq *r);
/* " (CHANGEDSINCE n [VANISHED])" (RFC 7162) if there; false on a syntax error. */
bool fetch_parse_modifiers(struct ip *ip, struct freq *r);
void freq_free(struct freq *r);
/* Is atts a valid FETCH attribute list ("(FLAGS UID ...)" or one item)? */
bool fetch_atts_valid(const char *atts);

#endif
