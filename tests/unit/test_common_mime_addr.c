/* Unit tests: RFC 5322 address lists (mime_addr.h) — every form ENVELOPE must
 * render: display names from phrases and from comments, groups, routes, quoted
 * local parts, missing parts, obsolete CFWS, broken input and the limit. */
#include "common/mime_addr.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Entries as "name|route|mailbox|host;" with "-" for NULL. */
static char *parsed(const char *value)
{
	struct mime_addr *v;
	size_t n = mime_addr_parse(value, &v);
	char *out = xstrdup("");
	for (size_t i = 0; i < n; i++) {
		char *next = xasprintf("%s%s|%s|%s|%s;", out, v[i].name ? v[i].name : "-",
				       v[i].route ? v[i].route : "-", v[i].mailbox ? v[i].mailbox : "-",
				       v[i].host ? v[i].host : "-");
		free(out);
		out = next;
	}
	mime_addr_free(v, n);
	return out;
}

static void parses(const char *value, const char *want, int line)
{
	char *got = parsed(value);
	check_record(!strcmp(got, want), value, __FILE__, line);
	if (strcmp(got, want))
		fprintf(stderr, "  [%s] -> [%s], want [%s]\n", value, got, want);
	free(got);
}
#define PARSES(value, want) parses(value, want, __LINE__)

static void test_forms(void)
{
	PARSES("user@domain", "-|-|user|domain;");
	PARSES("Real Name <user@domain>", "Real Name|-|user|domain;");
	PARSES("\"Doe, John\" <john@example.org>", "Doe, John|-|john|example.org;");
	/* obsolete: the comment after an addr-spec is its display name */
	PARSES("user@domain (Real Name)", "Real Name|-|user|domain;");
	PARSES("user@domain ( Real (nested) Name )", "Real (nested) Name|-|user|domain;");
	PARSES("John Q. Public <jqp@example.com>", "John Q. Public|-|jqp|example.com;");
	PARSES("<@route:user@domain>", "-|@route|user|domain;");
	PARSES("Name <@a.example, @b.example:user@domain>", "Name|@a.example,@b.example|user|domain;");
	PARSES("<user-from (comment)@ (comment) domain.org>", "-|-|user-from|domain.org;");
	PARSES("first . last @ example . org", "-|-|first.last|example.org;");
	PARSES("\"john\"@example.org", "-|-|john|example.org;");
	PARSES("\"john doe\"@example.org", "-|-|\"john doe\"|example.org;");
	PARSES("\"a\\\"b\"@example.org", "-|-|\"a\\\"b\"|example.org;");
	PARSES("user@[192.0.2.1]", "-|-|user|[192.0.2.1];");
	PARSES("=?utf-8?q?J=C3=B6rg?= <j@example.de>", "=?utf-8?q?J=C3=B6rg?=|-|j|example.de;");
	PARSES("a@b, c@d", "-|-|a|b;-|-|c|d;");
	PARSES(", a@b,, ,c@d,", "-|-|a|b;-|-|c|d;");
}

static void test_groups(void)
{
	PARSES("group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;",
	       "-|-|group|-;-|-|g1|d1.org;-|-|g2|d2.org;-|-|-|-;-|-|group2|-;-|-|g3|d3.org;-|-|-|-;");
	PARSES("group:;, group2: (foo) ;", "-|-|group|-;-|-|-|-;-|-|group2|-;-|-|-|-;");
	PARSES("undisclosed-recipients:;", "-|-|undisclosed-recipients|-;-|-|-|-;");
	PARSES("Team: Ann <ann@x>, bob@y", "-|-|Team|-;Ann|-|ann|x;-|-|bob|y;-|-|-|-;");
}

static void test_missing_and_broken(void)
{
	PARSES("", "");
	PARSES("   (just a comment)  ", "");
	PARSES("<>", "");
	PARSES("user", "-|-|user|.MISSING-HOST-NAME.;");
	PARSES("@domain", "-|-|MISSING_MAILBOX|domain;");
	PARSES("Name <user>", "Name|-|user|.MISSING-HOST-NAME.;");
	PARSES(">>>, a@b", "-|-|a|b;");
	PARSES("a@b junk junk, c@d", "-|-|a|b;-|-|c|d;");
	PARSES("Name <a@b", "Name|-|a|b;");
	PARSES("\"unterminated", "-|-|unterminated|.MISSING-HOST-NAME.;");
	PARSES("(unterminated", "");
	PARSES("a@b (unterminated", "unterminated|-|a|b;");
	PARSES("a@b ()", "-|-|a|b;");	/* found by fuzz_imap: an empty first comment */
	PARSES("a@b (  )", "-|-|a|b;");
	PARSES("g: a@b", "-|-|g|-;-|-|a|b;-|-|-|-;");
}

static void test_limit(void)
{
	size_t len = 0;
	char *many = xmalloc(20 * 2000 + 16);
	len += (size_t)sprintf(many, "g:");
	for (int i = 0; i < 2000; i++)
		len += (size_t)sprintf(many + len, "u%d@x,", i);
	struct mime_addr *v;
	size_t n = mime_addr_parse(many, &v);
	CHECK(n == MIME_ADDR_MAX);
	CHECK(n && v[0].host == NULL && v[0].mailbox && !strcmp(v[0].mailbox, "g"));
	CHECK(n && v[n - 1].mailbox == NULL && v[n - 1].host == NULL);	/* group closed */
	mime_addr_free(v, n);
	/* a group that starts with one entry left is not opened at all */
	len = 0;
	for (int i = 0; i < MIME_ADDR_MAX - 1; i++)
		len += (size_t)sprintf(many + len, "u%d@x,", i);
	sprintf(many + len, "g: a@b;");
	n = mime_addr_parse(many, &v);
	CHECK(n == MIME_ADDR_MAX - 1 && v[n - 1].host && !strcmp(v[n - 1].host, "x"));
	mime_addr_free(v, n);
	free(many);
}

int main(void)
{
	test_forms();
	test_groups();
	test_missing_and_broken();
	test_limit();
	return check_summary("mime_addr");
}
