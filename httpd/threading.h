/* threading.h — which thread a message joins when JMAP first sees it: the
 * thread of the first message it refers to (References, then In-Reply-To)
 * that has one, else a new thread. Every Message-ID it names is recorded
 * with the thread ("m" records of the journal), so replies to the same
 * message join even when that message itself never arrived. A thread id is
 * "T" + the 24 hex digits of the email that started it. */
#ifndef TERN_HTTPD_THREADING_H
#define TERN_HTTPD_THREADING_H

#include "common/objectid.h"

struct journal;

#define THREAD_HDR_MAX (256 * 1024)	/* header bytes read to find the ids */
#define THREAD_REFS_MAX 100		/* Message-IDs of References looked at */

/* path: the message file; emailid: its id; out: the thread id. */
void thread_assign(struct journal *j, const char *path, const char *emailid,
		   char out[OBJECTID_LEN + 1]);
/* The header of the message file at path in CRLF form (up to
 * THREAD_HDR_MAX), malloc'd; *len set. NULL when unreadable. */
char *thread_read_header(const char *path, size_t *len);

#endif
