/* webmail.h — the webmail in the front role: its static files, its login
 * sessions (cookie + CSRF token) and the routes under /webmail/. The page
 * itself talks only JMAP (jmap_front.c accepts a session cookie in place of
 * HTTP Basic). */
#ifndef TERN_HTTPD_WEBMAIL_H
#define TERN_HTTPD_WEBMAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evhttp_request;

struct webmail_file {
	const char *type;
	const char *data;
	size_t len;
};

/* webmail_files.c: the built-in file under /webmail/ named name ("" is the
 * page itself); false if there is none. */
bool webmail_file(const char *name, struct webmail_file *out);

/* websession.c: logged-in webmail sessions, in the front's memory only.
 * A session ends at logout, after idle_s without a request, or after
 * WEBSESSION_MAX_AGE_S whatever its use. */
#define WEBSESSION_ID_LEN 64	/* hex of 32 random bytes, id and CSRF token alike */
#define WEBSESSION_MAX_AGE_S (12 * 3600)
#define WEBSESSION_SLOTS 1024
#define WEBSESSION_PER_USER 16	/* live sessions of one user at most */

struct websession {
	char id[WEBSESSION_ID_LEN + 1];
	char csrf[WEBSESSION_ID_LEN + 1];
	char *user;		/* canonical address */
	char *token;		/* authd's hand-off token (valid for a minute) */
	char *host;		/* the user's mailbox host when another one ("" here) */
	int64_t token_expiry;	/* unix seconds */
	uint64_t created, used;	/* now_ms() */
};

void websession_init(uint64_t idle_s);
/* A new session for user: in place of that user's least recently used one
 * when the user has WEBSESSION_PER_USER, else in a free slot (the least
 * recently used of all dropped when the table is full). */
struct websession *websession_new(const char *user, const char *token, const char *host);
/* The live session of the request's cookie, or NULL (touches it). */
struct websession *websession_of(struct evhttp_request *req);
/* Does the request carry the session's CSRF token (X-CSRF-Token)? */
bool websession_csrf_ok(struct evhttp_request *req, const struct websession *s);
/* The hand-off token while it is valid, else "". */
const char *websession_token(const struct websession *s);
void websession_end(struct websession *s);

/* webmail_front.c: true if path is one of the webmail's (answered). */
bool webmail_serve(struct evhttp_request *req, const char *path);

#endif
