/* Unit tests: what the front reads before login (httpd/front_parse.c): HTTP
 * Basic credentials and the webmail's login body, with what each refuses. */
#include "httpd/front_parse.h"
#include "tests/unit/check.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Basic header h gives user u and password p (NULL u: refused). */
static bool basic_is(const char *h, const char *u, const char *p)
{
	char *gu = NULL, *gp = NULL;
	bool ok = front_basic_parse(h, &gu, &gp);
	bool same = u ? ok && !strcmp(gu, u) && !strcmp(gp, p) : !ok;
	free(gu);
	free(gp);
	return same;
}

static bool login_is(const char *body, const char *u, const char *p)
{
	char *gu = NULL, *gp = NULL;
	bool ok = front_login_parse(body, strlen(body), &gu, &gp);
	bool same = u ? ok && !strcmp(gu, u) && !strcmp(gp, p) : !ok;
	free(gu);
	free(gp);
	return same;
}

static void test_basic(void)
{
	CHECK(basic_is("Basic Ym9iOnB3", "bob", "pw"));			/* bob:pw */
	CHECK(basic_is("basic   Ym9iOnB3", "bob", "pw"));
	CHECK(basic_is("Basic Ym9iOmE6Yg==", "bob", "a:b"));		/* bob:a:b */
	CHECK(basic_is("Basic Ym9iOg==", "bob", ""));			/* bob: */
	CHECK(basic_is("Basic OnB3", NULL, NULL));			/* :pw */
	CHECK(basic_is("Basic Ym9i", NULL, NULL));			/* bob */
	CHECK(basic_is("Basic Ym9iAHg6cHc=", NULL, NULL));		/* bob\0x:pw */
	CHECK(basic_is("Basic Ym9iOnB3=", NULL, NULL));		/* not a multiple of 4 */
	CHECK(basic_is("Bearer Ym9iOnB3", NULL, NULL));
	CHECK(basic_is("Basic ", NULL, NULL) && basic_is(NULL, NULL, NULL));
	char *big = malloc(BASIC_MAX + 16);
	strcpy(big, "Basic ");
	memset(big + 6, 'A', BASIC_MAX + 4);
	big[6 + BASIC_MAX + 4] = '\0';
	CHECK(basic_is(big, NULL, NULL));
	free(big);
}

static void test_login_body(void)
{
	CHECK(login_is("{\"username\": \"bob@example.test\", \"password\": \"pw\"}",
		       "bob@example.test", "pw"));
	CHECK(login_is("{\"username\": \"b\", \"password\": \"\"}", NULL, NULL));
	CHECK(login_is("{\"username\": \"b\"}", NULL, NULL));
	CHECK(login_is("{\"username\": 1, \"password\": \"p\"}", NULL, NULL));
	CHECK(login_is("{\"username\": \"b\", \"username\": \"c\", \"password\": \"p\"}", NULL, NULL));
	CHECK(login_is("username=b&password=p", NULL, NULL));
	/* a NUL inside would cut the name authd sees */
	CHECK(login_is("{\"username\": \"bob\\u0000x\", \"password\": \"p\"}", NULL, NULL));
	CHECK(login_is("{\"username\": \"b\", \"password\": \"p\\u0000\"}", NULL, NULL));
}

int main(void)
{
	test_basic();
	test_login_body();
	return check_summary("httpd_front_parse");
}
