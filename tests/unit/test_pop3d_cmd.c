/* Unit tests: POP3 command parser, argument counts, message numbers. */
#include "pop3d/pop3_cmd.h"
#include "tests/unit/check.h"

#include <stdio.h>

static enum pop3_parse parse(const char *text, struct pop3_cmd *c, char *buf, size_t n)
{
	snprintf(buf, n, "%s", text);
	return pop3_parse(buf, c);
}

static void test_keywords(void)
{
	struct pop3_cmd c;
	char b[256];
	CHECK(parse("stat", &c, b, sizeof b) == PARSE_OK && c.def->id == CMD_STAT && c.argc == 0);
	CHECK(parse("StAt", &c, b, sizeof b) == PARSE_OK && c.def->id == CMD_STAT);
	CHECK(parse("FOO", &c, b, sizeof b) == PARSE_UNKNOWN && !c.def);
	CHECK(parse("STATS", &c, b, sizeof b) == PARSE_UNKNOWN);
	CHECK(parse("", &c, b, sizeof b) == PARSE_EMPTY);
	CHECK(parse("   ", &c, b, sizeof b) == PARSE_EMPTY);
	CHECK(parse("TOP 1 10", &c, b, sizeof b) == PARSE_OK && c.argc == 2);
	CHECK_STR(c.argv[0], "1");
	CHECK_STR(c.argv[1], "10");
	CHECK(parse("LIST", &c, b, sizeof b) == PARSE_OK && c.argc == 0);
	CHECK(parse("LIST 3", &c, b, sizeof b) == PARSE_OK && c.argc == 1);
	CHECK(parse("LIST  3 ", &c, b, sizeof b) == PARSE_OK && c.argc == 1);
	CHECK_STR(c.argv[0], "3");
}

static void test_arg_counts(void)
{
	struct pop3_cmd c;
	char b[256];
	CHECK(parse("RETR", &c, b, sizeof b) == PARSE_SYNTAX);
	CHECK(parse("RETR 1 2", &c, b, sizeof b) == PARSE_SYNTAX);
	CHECK(parse("STAT x", &c, b, sizeof b) == PARSE_SYNTAX);
	CHECK(parse("TOP 1", &c, b, sizeof b) == PARSE_SYNTAX);
	CHECK(parse("USER", &c, b, sizeof b) == PARSE_SYNTAX);
	CHECK(parse("USER a b", &c, b, sizeof b) == PARSE_SYNTAX);
	CHECK(parse("AUTH", &c, b, sizeof b) == PARSE_OK && c.argc == 0);
	CHECK(parse("AUTH PLAIN AGEAYg==", &c, b, sizeof b) == PARSE_OK && c.argc == 2);
	CHECK(parse("AUTH PLAIN a b", &c, b, sizeof b) == PARSE_SYNTAX);
	/* a front-end of the site names its client before its login */
	CHECK(parse("xclient ADDR=192.0.2.1", &c, b, sizeof b) == PARSE_OK &&
	      c.def->id == CMD_XCLIENT && c.def->states == POP3_ST_AUTH && c.argc == 1);
	CHECK_STR(c.argv[0], "ADDR=192.0.2.1");
	CHECK(parse("XCLIENT", &c, b, sizeof b) == PARSE_SYNTAX);
	CHECK(parse("XCLIENT ADDR=1.2.3.4 PORT=5", &c, b, sizeof b) == PARSE_SYNTAX);
}

static void test_pass_keeps_spaces(void)
{
	struct pop3_cmd c;
	char b[256];
	CHECK(parse("PASS my secret  pw ", &c, b, sizeof b) == PARSE_OK && c.argc == 1);
	CHECK_STR(c.argv[0], "my secret  pw ");
	CHECK(parse("PASS", &c, b, sizeof b) == PARSE_SYNTAX);
}

static void test_states(void)
{
	struct pop3_cmd c;
	char b[256];
	parse("STAT", &c, b, sizeof b);
	CHECK(!(c.def->states & POP3_ST_AUTH) && (c.def->states & POP3_ST_TRANS));
	parse("USER x", &c, b, sizeof b);
	CHECK((c.def->states & POP3_ST_AUTH) && !(c.def->states & POP3_ST_TRANS));
	parse("CAPA", &c, b, sizeof b);
	CHECK((c.def->states & POP3_ST_AUTH) && (c.def->states & POP3_ST_TRANS));
	parse("STLS", &c, b, sizeof b);
	CHECK(!(c.def->states & POP3_ST_TRANS));
}

static void test_numbers(void)
{
	unsigned long n;
	CHECK(pop3_msgnum("1", 5) == 1);
	CHECK(pop3_msgnum("5", 5) == 5);
	CHECK(pop3_msgnum("6", 5) == 0);
	CHECK(pop3_msgnum("0", 5) == 0);
	CHECK(pop3_msgnum("-1", 5) == 0);
	CHECK(pop3_msgnum("+1", 5) == 0);
	CHECK(pop3_msgnum("1x", 5) == 0);
	CHECK(pop3_msgnum("", 5) == 0);
	CHECK(pop3_msgnum("99999999999999999999999", 5) == 0);
	CHECK(pop3_count("0", &n) && n == 0);
	CHECK(pop3_count("10", &n) && n == 10);
	CHECK(!pop3_count("ten", &n));
	CHECK(!pop3_count(" 1", &n));
	CHECK(pop3_printable("abc", 10));
	CHECK(!pop3_printable("a c", 10));
	CHECK(!pop3_printable("abcdef", 3));
}

int main(void)
{
	test_keywords();
	test_arg_counts();
	test_pass_keeps_spaces();
	test_states();
	test_numbers();
	return check_summary("pop3d_cmd");
}
