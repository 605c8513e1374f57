/* email_query.h — Email/query and Email/queryChanges (RFC 8621 4.4, 4.5):
 * every FilterCondition and sort property of 4.4, collapseThreads,
 * positions and anchors. Messages are read from the folder indexes (dates,
 * sizes, flags), the journal (ids, threads) and the index's cached header
 * fields; only body and attachment conditions read the files. */
#ifndef TERN_HTTPD_EMAIL_QUERY_H
#define TERN_HTTPD_EMAIL_QUERY_H

#include "httpd/jmap.h"

void email_query(struct jcall *c, json_t *args);
void email_query_changes(struct jcall *c, json_t *args);

#endif
