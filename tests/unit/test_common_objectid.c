/* Unit tests: MAILBOXID and EMAILID (common/objectid.h). */
#include "common/objectid.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_mailbox(void)
{
	char *a = xasprintf("%s/a", check_tmpdir()), *b = xasprintf("%s/b", check_tmpdir());
	char id1[OBJECTID_LEN + 1], id2[OBJECTID_LEN + 1], id3[OBJECTID_LEN + 1];
	CHECK(mkdir(a, 0700) == 0);
	CHECK(objectid_mailbox(a, id1) == 0);
	CHECK(objectid_valid(id1, 'M'));
	CHECK(objectid_mailbox(a, id2) == 0);
	CHECK_STR(id1, id2);			/* stored at first use */
	CHECK(rename(a, b) == 0);
	CHECK(objectid_mailbox(b, id2) == 0);
	CHECK_STR(id1, id2);			/* it moves with the folder */
	CHECK(mkdir(a, 0700) == 0);
	CHECK(objectid_mailbox(a, id3) == 0);
	CHECK(strcmp(id1, id3) != 0);		/* a new folder at the old name is new */
	/* a damaged file is replaced by nothing: the id cannot be read */
	char *f = xasprintf("%s/%s", a, MAILBOXID_FILE);
	FILE *fp = fopen(f, "w");
	fputs("garbage\n", fp);
	fclose(fp);
	CHECK(objectid_mailbox(a, id3) == -1);
	CHECK(objectid_mailbox("/nonexistent/dir", id3) == -1);
	free(f);
	free(a);
	free(b);
}

static void test_email(void)
{
	char e1[OBJECTID_LEN + 1], e2[OBJECTID_LEN + 1], e3[OBJECTID_LEN + 1];
	objectid_email("1700000000.M1P2Q3.host", e1);
	objectid_email("1700000000.M1P2Q3.host:2,S", e2);
	objectid_email("1700000000.M1P2Q3.host:2,FRSa", e3);
	CHECK(objectid_valid(e1, 'E'));
	/* the first 12 bytes of SHA-256("1700000000.M1P2Q3.host") in hex (Python's
	 * hashlib): ids are stored in journals and must never change */
	CHECK_STR(e1, "E47ea1b12ba253506649264a6");
	CHECK_STR(e1, e2);		/* flags are not part of the identity */
	CHECK_STR(e1, e3);
	objectid_email("1700000000.M1P2Q4.host:2,S", e2);
	CHECK(strcmp(e1, e2) != 0);
	CHECK(!objectid_valid(e1, 'M'));
	CHECK(!objectid_valid("E123", 'E'));
	CHECK(!objectid_valid("EABCDEF0123456789abcdef01", 'E'));	/* upper case */
}

int main(void)
{
	test_mailbox();
	test_email();
	return check_summary("common_objectid");
}
