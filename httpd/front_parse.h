/* front_parse.h — the small parsers of the front role that read what a
 * client sends before any login: the HTTP Basic credentials, the webmail's
 * login body, its session cookie and CSRF header. Kept apart from evhttp so
 * the fuzzer (tests/fuzz/fuzz_httpd.c) runs them on any bytes. */
#ifndef TERN_HTTPD_FRONT_PARSE_H
#define TERN_HTTPD_FRONT_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#define BASIC_MAX 2048		/* base64 of user:password */
#define LOGIN_MAX 4096		/* a login body: two short strings */
#define COOKIE_NAME "tern_session"

/* "Basic base64(user:password)": *user (not empty, no colon) and *pass
 * malloc'd, neither with a NUL in it; false when malformed. */
bool front_basic_parse(const char *h, char **user, char **pass);
/* The webmail's login body {"username": ..., "password": ...} (JSON, both
 * non-empty strings): *user and *pass malloc'd; false otherwise. */
bool front_login_parse(const char *body, size_t len, char **user, char **pass);
/* Our cookie's value in a Cookie header ("a=b; c=d") into out when it has
 * exactly idlen characters. */
bool front_cookie_value(const char *h, char *out, size_t idlen);
/* Does header h (may be NULL) carry token (idlen characters)? Constant
 * time in the token. */
bool front_token_ok(const char *h, const char *token, size_t idlen);

#endif
