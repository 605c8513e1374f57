/* sortkeys.h — what SORT compares (RFC 5256 2, RFC 5957 for DISPLAYFROM/TO)
 * and what THREAD needs of a message: its keys computed once per message
 * (struct sortrec), compared per criterion. SORT, THREAD and the CONTEXT=SORT
 * updates (search_update.c) share them. */
#ifndef TERN_IMAPD_SORTKEYS_H
#define TERN_IMAPD_SORTKEYS_H

#include "imapd/commands.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mi;

#define SORT_MAX_CRITERIA 16

enum sort_crit { SC_ARRIVAL, SC_CC, SC_DATE, SC_FROM, SC_SIZE, SC_SUBJECT, SC_TO, SC_DISPLAYFROM,
		 SC_DISPLAYTO };

struct sort_key {
	enum sort_crit c;
	bool reverse;
};

/* The criteria of one SORT command. */
struct sort_program {
	struct sort_key k[SORT_MAX_CRITERIA];
	size_t n;
};

struct sortrec {
	size_t idx;		/* view index when computed */
	uint32_t uid;
	int64_t arrival, date;
	uint64_t size;
	char *subject, *from, *to, *cc, *dfrom, *dto;	/* upper-cased keys */
	char *msgid, *refs, *irt;	/* Message-ID, References, In-Reply-To */
	bool reply;		/* the subject had Re:/Fwd: or a (fwd) trailer */
};

/* "(criteria)" of SORT: up to SORT_MAX_CRITERIA, each optionally REVERSE. */
bool sort_parse_criteria(struct ip *ip, struct sort_program *p);
/* The keys of view message idx (reads its header through mi). */
void sortrec_fill(struct sortrec *r, struct session *s, struct mi *mi, size_t idx);
void sortrec_clear(struct sortrec *r);
/* One criterion, ascending. */
int sortrec_cmp1(const struct sortrec *a, const struct sortrec *b, enum sort_crit c);
/* The whole program; equal keys go by UID, that is by sequence (RFC 5256). */
int sortrec_cmp(const struct sort_program *p, const struct sortrec *a, const struct sortrec *b);

#endif
