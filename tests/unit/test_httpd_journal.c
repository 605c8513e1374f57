/* Unit tests: the JMAP journal's change records merged by /changes
 * (httpd/journal.c), and mail dates (common/maildate.c). */
#include "httpd/journal.h"
#include "common/maildate.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void record(struct journal *j, const char *json)
{
	json_t *c = json_loads(json, 0, NULL);
	journal_record(j, c);
	json_decref(c);
}

static char *ids(json_t *a)
{
	char *s = json_dumps(a, JSON_COMPACT);
	return s;
}

static void test_changes(void)
{
	CHECK(chdir(check_tmpdir()) == 0);
	struct journal *j = journal_open(true);
	CHECK(j != NULL);
	char *s0 = journal_state(j, "Email");
	record(j, "{\"Email\":{\"c\":[\"a\",\"b\"]},\"Mailbox\":{\"k\":[\"m1\"]}}");
	record(j, "{\"Email\":{\"u\":[\"a\"],\"d\":[\"b\"],\"c\":[\"c\"]}}");
	record(j, "{\"Mailbox\":{\"u\":[\"m2\"]}}");
	record(j, "{\"Email\":{\"d\":[\"c\"],\"c\":[\"x\"]}}");
	record(j, "{\"Email\":{\"d\":[\"x\"]}}");
	record(j, "{\"Email\":{\"c\":[\"x\"]}}");	/* moved: gone from one folder, here in another */
	char *s6 = journal_state(j, "Email");
	struct jchanges c;
	CHECK(journal_changes(j, "Email", s0, 0, &c) == 0);
	char *cr = ids(c.created), *up = ids(c.updated), *de = ids(c.destroyed);
	CHECK_STR(cr, "[\"a\",\"x\"]");	/* b and c were born and gone in between */
	CHECK_STR(up, "[]");
	CHECK_STR(de, "[]");
	CHECK_STR(c.new_state, s6);
	CHECK(!c.more);
	free(cr);
	free(up);
	free(de);
	jchanges_free(&c);
	/* after change 1: a updated, b gone, x new since (c came and went) */
	char *s1 = xasprintf("%.*s1", (int)(strchr(s0, '.') - s0 + 1), s0);
	CHECK(journal_changes(j, "Email", s1, 0, &c) == 0);
	up = ids(c.updated);
	de = ids(c.destroyed);
	cr = ids(c.created);
	CHECK_STR(up, "[\"a\"]");
	CHECK_STR(de, "[\"b\"]");
	CHECK_STR(cr, "[\"x\"]");
	free(cr);
	free(up);
	free(de);
	jchanges_free(&c);
	/* gone from one folder and indexed in another (a move): updated */
	char *s4 = xasprintf("%.*s4", (int)(strchr(s0, '.') - s0 + 1), s0);
	CHECK(journal_changes(j, "Email", s4, 0, &c) == 0);
	up = ids(c.updated);
	CHECK_STR(up, "[\"x\"]");
	CHECK(json_array_size(c.created) == 0 && json_array_size(c.destroyed) == 0);
	free(up);
	free(s4);
	jchanges_free(&c);
	/* maxChanges stops between records, at an intermediate state */
	char *t0 = journal_state(j, "Thread");
	record(j, "{\"Thread\":{\"c\":[\"t1\"]}}");
	record(j, "{\"Thread\":{\"c\":[\"t2\"]}}");
	record(j, "{\"Thread\":{\"c\":[\"t3\"]}}");
	CHECK(journal_changes(j, "Thread", t0, 2, &c) == 0);
	CHECK(c.more && json_array_size(c.created) == 2);
	char *next = xstrdup(c.new_state);
	jchanges_free(&c);
	CHECK(journal_changes(j, "Thread", next, 2, &c) == 0);
	cr = ids(c.created);
	CHECK_STR(cr, "[\"t3\"]");
	CHECK(!c.more);
	free(cr);
	free(next);
	free(t0);
	jchanges_free(&c);
	CHECK(journal_changes(j, "Email", s0, 1, &c) == -1);	/* one record is larger */
	/* counts-only updates of mailboxes, then a real one */
	CHECK(journal_changes(j, "Mailbox", s0, 0, &c) == 0);
	CHECK(!c.counts_only && json_array_size(c.updated) == 2);
	jchanges_free(&c);
	CHECK(journal_changes(j, "Mailbox", s0, 0, &c) == 0);
	jchanges_free(&c);
	/* unknown states */
	CHECK(journal_changes(j, "Email", "other.1", 0, &c) == -1);
	CHECK(journal_changes(j, "Email", "garbage", 0, &c) == -1);
	char *future = xasprintf("%.*s99", (int)(strchr(s0, '.') - s0 + 1), s0);
	CHECK(journal_changes(j, "Email", future, 0, &c) == -1);
	free(future);
	free(s1);
	free(s0);
	free(s6);
	journal_close(j);
}

static void test_dates(void)
{
	int64_t t;
	int off;
	char buf[40];
	CHECK(maildate_parse("Mon, 02 Mar 2026 10:00:00 +0100", &t, &off));
	CHECK(t == 1772442000 && off == 60);
	maildate_rfc3339(t, off, false, buf);
	CHECK_STR(buf, "2026-03-02T10:00:00+01:00");
	CHECK(maildate_parse("2 Mar 26 09:00 GMT (comment)", &t, &off) && t == 1772442000 && off == 0);
	CHECK(maildate_parse("Mon (x), 2 Mar 2026 04:00:00 EST", &t, &off) && t == 1772442000);
	CHECK(!maildate_parse("yesterday", &t, &off));
	CHECK(!maildate_parse("32 Mar 2026 10:00 +0000", &t, &off));
	CHECK(maildate_parse_rfc3339("2026-03-02T09:00:00Z", &t) && t == 1772442000);
	CHECK(maildate_parse_rfc3339("2026-03-02T10:00:00.123+01:00", &t) && t == 1772442000);
	CHECK(!maildate_parse_rfc3339("2026-03-02 09:00:00Z", &t));
	CHECK(!maildate_parse_rfc3339("2026-03-02T09:00:00", &t));
	maildate_rfc3339(1772442000, 0, true, buf);
	CHECK_STR(buf, "2026-03-02T09:00:00Z");
	maildate_rfc5322(1772442000, -300, buf);
	CHECK_STR(buf, "Mon, 02 Mar 2026 04:00:00 -0500");
}

int main(void)
{
	test_changes();
	test_dates();
	return check_summary("httpd_journal");
}
