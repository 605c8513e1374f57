/* Unit tests: the i;unicode-casemap keys of SORT and THREAD (RFC 5051,
 * casemap_title_utf8) and SEARCH's caseless substring match. */
#include "imapd/casefold.h"
#include "tests/unit/check.h"

#include <stdlib.h>
#include <string.h>

static void check_title(const char *in, const char *want)
{
	size_t n = 0;
	char *got = casemap_title_utf8(in, strlen(in), &n);
	CHECK_STR(got, want);
	CHECK(got && n == strlen(want));
	free(got);
}

static void test_title(void)
{
	check_title("abc_Z", "ABC_Z");				/* ASCII: the upper case */
	check_title("\xc3\xa9" "clair", "E\xcc\x81" "CLAIR");	/* é: É, then NFKD */
	check_title("\xc3\x89" "clair", "E\xcc\x81" "CLAIR");	/* É */
	check_title("\xc7\x86", "Dz\xcc\x8c");			/* dž: titlecase Dž (not DŽ), NFKD */
	check_title("\xef\xac\x81", "fi");			/* ﬁ ligature: NFKD "fi", no second pass */
	check_title("\xc3\x9f", "\xc3\x9f");			/* ß has no simple titlecase */
	check_title("\xf0\x90\x90\xa8", "\xf0\x90\x90\x80");	/* Deseret: outside the BMP */
	check_title("caf\xe9", "CAF\xef\xbf\xbd");		/* not UTF-8: U+FFFD */
	check_title("", "");
}

static void test_contains(void)
{
	const char *h = "Stra\xc3\x9f" "e in J\xc3\xbc" "rgens Haus";
	CHECK(casefold_contains(h, strlen(h), "STRASSE"));
	CHECK(casefold_contains(h, strlen(h), "J\xc3\x9c" "RGEN"));
	CHECK(!casefold_contains(h, strlen(h), "JURGEN"));
	CHECK(casefold_contains(h, strlen(h), ""));
}

int main(void)
{
	test_title();
	test_contains();
	return check_summary("imapd_casefold");
}
