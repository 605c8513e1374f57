/* Unit tests: the stored vacation response and who was answered
 * (common/vacation.c). */
#include "common/vacation.h"
#include "tests/unit/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_active(const char *dir)
{
	struct vacation v;
	json_t *o = vacation_read(dir);	/* none stored: the disabled default */
	CHECK(o && json_is_false(json_object_get(o, "isEnabled")));
	CHECK(!vacation_active(dir, 1000, &v));
	json_object_set_new(o, "isEnabled", json_true());
	json_object_set_new(o, "fromDate", json_string("2026-01-01T00:00:00Z"));
	json_object_set_new(o, "toDate", json_string("2026-02-01T00:00:00Z"));
	json_object_set_new(o, "subject", json_string("Away"));
	CHECK(vacation_write(dir, o) == 0);
	json_decref(o);
	CHECK(!vacation_active(dir, 1767225599, &v));	/* a second before fromDate */
	CHECK(vacation_active(dir, 1767225600, &v));
	CHECK_STR(v.subject, "Away");
	CHECK(v.text == NULL && v.html == NULL);
	vacation_free(&v);
	CHECK(!vacation_active(dir, 1769904000, &v));	/* toDate itself: over */
	/* a damaged file is not a response */
	CHECK(check_put_file(dir, "", VACATION_FILE, "{\"isEnabled\": true") == 0);
	CHECK(vacation_read(dir) == NULL);
	CHECK(!vacation_active(dir, 1767225600, &v));
	CHECK(check_put_file(dir, "", VACATION_FILE, "{\"isEnabled\": true, \"toDate\": 5}") == 0);
	CHECK(!vacation_active(dir, 1767225600, &v));
}

static void test_sent(const char *dir)
{
	time_t t = 1767225600;
	CHECK(!vacation_sent_check(dir, "a@example.org", t));
	CHECK(vacation_sent_check(dir, "A@Example.org", t + 10));
	CHECK(!vacation_sent_check(dir, "b@example.org", t + 20));
	CHECK(vacation_sent_check(dir, "a@example.org", t + VACATION_PERIOD_S - 1));
	CHECK(!vacation_sent_check(dir, "a@example.org", t + VACATION_PERIOD_S + 1));
	/* a new response forgets who was answered */
	json_t *o = vacation_read(dir);
	CHECK(o && vacation_write(dir, o) == 0);
	json_decref(o);
	CHECK(!vacation_sent_check(dir, "b@example.org", t + 30));
	/* bounded: the oldest are dropped past VACATION_SENT_MAX */
	for (int i = 0; i < VACATION_SENT_MAX + 5; i++) {
		char a[64];
		snprintf(a, sizeof a, "s%d@example.org", i);
		vacation_sent_check(dir, a, t + 40);
	}
	CHECK(!vacation_sent_check(dir, "b@example.org", t + 50));
	CHECK(vacation_sent_check(dir, "s10@example.org", t + 50));
	char *path = malloc(strlen(dir) + 64);
	sprintf(path, "%s/%s", dir, VACATION_SENT_FILE);
	FILE *f = fopen(path, "r");
	int lines = 0, c;
	while (f && (c = fgetc(f)) != EOF)
		lines += c == '\n';
	if (f)
		fclose(f);
	free(path);
	CHECK(lines == VACATION_SENT_MAX);
}

int main(void)
{
	const char *dir = check_tmpdir();
	test_active(dir);
	test_sent(dir);
	return check_summary("common_vacation");
}
