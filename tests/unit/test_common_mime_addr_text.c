/* mime_addr_text: address lists written back as the one line SEARCH
 * FROM/TO/CC/BCC match (the forms of imaptest's search-addresses group). */
#include "common/mime_addr.h"
#include "tests/unit/check.h"

#include <stdlib.h>

static void text_is(const char *value, const char *want)
{
	char *t = mime_addr_text(value);
	CHECK_STR(t, want);
	free(t);
}

int main(void)
{
	text_is("user@domain.org", "<user@domain.org>");
	text_is("Real Name <user@domain.org>", "Real Name <user@domain.org>");
	/* comments inside an address vanish; one after it is the display name */
	text_is("<user-from (comment)@ (comment) domain.org>", "<user-from@domain.org>");
	text_is("user@domain.org (Real)", "Real <user@domain.org>");
	text_is("a@x.org, \"Doe, J\" <b@y.org>", "<a@x.org>, Doe, J <b@y.org>");
	/* groups, the empty one too */
	text_is("group: g1@d.org, g2@d.org;, group2: g3@d.org;",
		"group: <g1@d.org>, <g2@d.org>;, group2: <g3@d.org>;");
	text_is("empty:;", "empty:;");
	text_is("<@r1,@r2:user@d.org>", "<@r1,@r2:user@d.org>");
	/* encoded words in names decoded; a comma decoded there stays a name */
	text_is("=?utf-8?q?J=C3=BCrgen=2C_M?= <j@x.test>", "J\xc3\xbcrgen, M <j@x.test>");
	/* parts the parser filled in are not text anyone searched for */
	text_is("d", "<d>");
	text_is("", "");
	text_is(NULL, "");
	return check_summary("mime_addr_text");
}
