/* search_update.h — CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267 4.3): a
 * SEARCH or SORT with RETURN (UPDATE) keeps its program and result, and each
 * change of the selected view (view.h subscriptions) that changes the result
 * is told to the client as ADDTO and REMOVEFROM in an ESEARCH response
 * tagged with the command's tag. Contexts live until CANCELUPDATE or the end
 * of the selection; a session has at most SEARCH_MAX_UPDATES of them (one
 * more is refused with an untagged NO [NOUPDATE], the command still
 * answered). */
#ifndef TERN_IMAPD_SEARCH_UPDATE_H
#define TERN_IMAPD_SEARCH_UPDATE_H

#include "imapd/search.h"
#include "imapd/sortkeys.h"

#define SEARCH_MAX_UPDATES 10
/* CANCELUPDATE names at most this many (more is BAD: no session has more
 * contexts to cancel). */
#define CANCELUPDATE_MAX_TAGS SEARCH_MAX_UPDATES

/* No updating context of the selection has this tag (else the new command
 * is BAD: tags name contexts). */
bool search_update_tag_free(struct session *s, const char *tag);
/* A SEARCH context for the current command: prog (taken; frozen here) and
 * the view indexes that matched (ascending). */
void search_update_start(struct session *s, struct skey *prog, bool uid, const size_t *idx, size_t n);
/* A SORT context: prog and recs (the matches' keys in sort order, n of
 * them) are taken. */
void search_update_sorted(struct session *s, struct skey *prog, bool uid, const struct sort_program *sp,
			  struct sortrec *recs, size_t n);
/* CANCELUPDATE's arguments, 1*(SP quoted) to the end of the line: the tags
 * (malloc'd) into tags[CANCELUPDATE_MAX_TAGS]; how many, 0 on a syntax
 * error or too many. */
size_t cancelupdate_parse(struct ip *ip, char **tags);

#endif
