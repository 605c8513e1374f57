/* sess.h — what the request handlers of a mail process share: the user, its
 * JMAP account id, and the answers they send back over the channel. */
#ifndef TERN_HTTPD_SESS_H
#define TERN_HTTPD_SESS_H

#include "httpd/account.h"
#include "httpd/session.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define ACCOUNT_ID_LEN 17	/* "a" + 16 hex digits */

struct sess {
	const char *user;
	char account[ACCOUNT_ID_LEN + 1];
	const struct session_conf *conf;
	struct event_base *base;
	struct chan *ch;
	struct push *push;	/* push.c: open event streams */
	struct account acct;	/* account.c: folders and messages as last synced */
	struct event *quiet;	/* session.c: gives the heap back once idle */
};

/* Answer request id: status, Content-Type, extra "Name: value\n" lines. */
void sess_reply(struct sess *s, uint32_t id, int status, const char *ctype, const char *hdrs,
		const void *body, size_t len);
/* Answer with the whole file fd as the body (the fd is taken). */
void sess_reply_fd(struct sess *s, uint32_t id, int status, const char *ctype, const char *hdrs,
		   int fd, size_t len);
/* Answer with j serialised (j is released). */
void sess_reply_json(struct sess *s, uint32_t id, int status, const char *ctype, json_t *j);
/* An RFC 7807 problem details answer (see front.h reply_problem). */
void sess_problem(struct sess *s, uint32_t id, int status, const char *type, const char *limit,
		  const char *detail);
/* One text/event-stream event on the stream of request id. */
void sess_event(struct sess *s, uint32_t id, const char *text);

#endif
