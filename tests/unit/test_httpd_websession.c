/* Unit tests: the webmail's login sessions (httpd/websession.c): the cookie
 * found among others in a Cookie header and nothing else taken for it, the
 * CSRF token, logout and the idle timeout. */
#include "httpd/webmail.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A request carrying the given Cookie and X-CSRF-Token headers (NULL: none). */
static struct evhttp_request *request(const char *cookie, const char *csrf)
{
	struct evhttp_request *req = evhttp_request_new(NULL, NULL);
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);
	if (cookie)
		evhttp_add_header(h, "Cookie", cookie);
	if (csrf)
		evhttp_add_header(h, "X-CSRF-Token", csrf);
	return req;
}

/* The session the cookie header names (the request freed). */
static struct websession *lookup(const char *cookie)
{
	struct evhttp_request *req = request(cookie, NULL);
	struct websession *s = websession_of(req);
	evhttp_request_free(req);
	return s;
}

static bool csrf_ok(struct websession *s, const char *token)
{
	struct evhttp_request *req = request(NULL, token);
	bool ok = websession_csrf_ok(req, s);
	evhttp_request_free(req);
	return ok;
}

static void test_cookie_and_csrf(void)
{
	websession_init(600);
	struct websession *a = websession_new("a@example.test", "tok.9999999999", "");
	struct websession *b = websession_new("b@example.test", "tok.1", "");
	CHECK(strlen(a->id) == WEBSESSION_ID_LEN && strcmp(a->id, b->id) != 0);
	CHECK(strcmp(a->id, a->csrf) != 0);
	char h[256];
	snprintf(h, sizeof h, "tern_session=%s", a->id);
	CHECK(lookup(h) == a);
	snprintf(h, sizeof h, "theme=dark; tern_session=%s; lang=en", b->id);
	CHECK(lookup(h) == b);
	snprintf(h, sizeof h, "x_tern_session=%s", a->id);	/* another cookie's name */
	CHECK(lookup(h) == NULL);
	snprintf(h, sizeof h, "tern_session=%.63s", a->id);	/* one digit short */
	CHECK(lookup(h) == NULL);
	snprintf(h, sizeof h, "tern_session=%sX", a->id);	/* one too many */
	CHECK(lookup(h) == NULL);
	CHECK(lookup("tern_session=") == NULL && lookup("") == NULL && lookup(NULL) == NULL);
	char wrong[WEBSESSION_ID_LEN + 1];
	memcpy(wrong, a->id, sizeof wrong);
	wrong[0] = wrong[0] == '0' ? '1' : '0';
	snprintf(h, sizeof h, "tern_session=%s", wrong);
	CHECK(lookup(h) == NULL);

	CHECK(csrf_ok(a, a->csrf));
	CHECK(!csrf_ok(a, b->csrf) && !csrf_ok(a, NULL) && !csrf_ok(a, "") && !csrf_ok(a, a->id));
	char longer[WEBSESSION_ID_LEN + 2];
	snprintf(longer, sizeof longer, "%s0", a->csrf);
	CHECK(!csrf_ok(a, longer));

	/* the hand-off token while authd's expiry (after its last '.') is ahead */
	CHECK_STR(websession_token(a), "tok.9999999999");
	CHECK_STR(websession_token(b), "");

	snprintf(h, sizeof h, "tern_session=%s", a->id);
	websession_end(a);
	CHECK(lookup(h) == NULL);
	snprintf(h, sizeof h, "tern_session=%s", b->id);
	CHECK(lookup(h) == b);
	websession_end(b);
}

/* One user's logins replace that user's least recently used session once
 * they have WEBSESSION_PER_USER; another user's session stays. */
static void test_per_user_cap(void)
{
	websession_init(600);
	struct websession *other = websession_new("b@example.test", "tok.1", "");
	char ids[WEBSESSION_PER_USER][WEBSESSION_ID_LEN + 1], h[256];
	for (int i = 0; i < WEBSESSION_PER_USER; i++) {
		struct websession *s = websession_new("a@example.test", "tok.1", "");
		memcpy(ids[i], s->id, sizeof ids[i]);
		usleep(2000);	/* distinct last-use times */
	}
	snprintf(h, sizeof h, "tern_session=%.64s", ids[0]);
	CHECK(lookup(h) != NULL);	/* now the least recently used is ids[1] */
	usleep(2000);
	struct websession *n = websession_new("a@example.test", "tok.1", "");
	snprintf(h, sizeof h, "tern_session=%.64s", ids[1]);
	CHECK(lookup(h) == NULL);
	int live = 0;
	for (int i = 0; i < WEBSESSION_PER_USER; i++) {
		snprintf(h, sizeof h, "tern_session=%.64s", ids[i]);
		live += lookup(h) != NULL;
	}
	CHECK(live == WEBSESSION_PER_USER - 1);
	snprintf(h, sizeof h, "tern_session=%s", n->id);
	CHECK(lookup(h) == n);
	snprintf(h, sizeof h, "tern_session=%s", other->id);
	CHECK(lookup(h) == other && other->user && !strcmp(other->user, "b@example.test"));
	/* many more logins of a: still WEBSESSION_PER_USER of a, b untouched */
	for (int i = 0; i < 3 * WEBSESSION_PER_USER; i++)
		websession_new("a@example.test", "tok.1", "");
	CHECK(lookup(h) == other);
	websession_end(other);
}

static void test_idle_timeout(void)
{
	websession_init(0);	/* every session is past its idle time at once */
	struct websession *s = websession_new("a@example.test", "tok.1", "");
	char h[256];
	snprintf(h, sizeof h, "tern_session=%s", s->id);
	CHECK(lookup(h) == NULL);
	CHECK(s->user == NULL);	/* the expired session was cleared */
}

int main(void)
{
	test_cookie_and_csrf();
	test_per_user_cap();
	test_idle_timeout();
	return check_summary("httpd_websession");
}
