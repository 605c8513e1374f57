/* email_query.h — Email/query and Email/queryChanges (RFC 8621 4.4, 4.5):
 * every FilterCondition and sort property of 4.4, collapseThreads,
 * positions and anchors. Messages are read from the folder indexes (dates,
 * sizes, flags), the journal (ids, threads) and the index's cached header
 * fields; only body and attachment conditions read the files. */
#ifndef TERN_HTTPD_EMAIL_QUERY_H
#define TERN_HTTPD_EMAIL_QUERY_H

#include "httpd/jmap.h"

void email_query(struct jcall *c, json_t *args);
/* Email/query of one folder, receivedAt descending, a page from position
 * (no anchor), answered from the index's dates and the journal without
 * reading the folder (email_query_recent.c): true when it answered, false
 * when the query is not of that shape (the full path answers it). */
bool email_query_recent(struct jcall *c, json_t *args);
void email_query_changes(struct jcall *c, json_t *args);

#endif
