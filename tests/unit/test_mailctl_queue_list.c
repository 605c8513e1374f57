/* Unit tests: which `queue list` lines hold up `mailctl user move`'s drain
 * (mailctl/queue_list.c): a message being delivered now to the user, with or
 * without a +detail, in any case, among other recipients. */
#include "mailctl/queue_admin.h"
#include "tests/unit/check.h"

static const char *carol = "carol@example.test";

static void test_active_for_the_user(void)
{
	CHECK(queue_list_active_for("A1B2 412 3s <x@sender.test> carol@example.test active now",
				    carol));
	CHECK(queue_list_active_for("A1B2 412 3s <x@s.test> carol+lists@example.test active -",
				    carol));
	CHECK(queue_list_active_for("A1B2 412 3s <x@s.test> bob@example.test,Carol@Example.TEST "
				    "active now", carol));
	/* A sender with spaces (a quoted local part) does not shift the fields. */
	CHECK(queue_list_active_for("A1B2 412 3s <\"a b c\"@s.test> carol@example.test active now",
				    carol));
}

static void test_not_the_user_or_not_active(void)
{
	CHECK(!queue_list_active_for("A1B2 412 3s <x@s.test> carol@example.test deferred 2s",
				     carol));
	CHECK(!queue_list_active_for("A1B2 412 3s <x@s.test> carol@example.test pending now", carol));
	CHECK(!queue_list_active_for("A1B2 412 3s <x@s.test> carol@example.test held -", carol));
	CHECK(!queue_list_active_for("A1B2 412 3s <x@s.test> carolyn@example.test active now",
				     carol));
	CHECK(!queue_list_active_for("A1B2 412 3s <x@s.test> carol@example.test.org active now",
				     carol));
	CHECK(!queue_list_active_for("A1B2 412 3s <x@s.test> xcarol@example.test active now", carol));
	CHECK(!queue_list_active_for("A1B2 412 3s <carol@example.test> - active now", carol));
	CHECK(!queue_list_active_for("", carol));
	CHECK(!queue_list_active_for("active now", carol));
	CHECK(!queue_list_active_for("carol@example.test active ", carol));
	CHECK(!queue_list_active_for("A1B2 412 3s <x@s.test> carol@example.test active now", "x"));
}

int main(void)
{
	test_active_for_the_user();
	test_not_the_user_or_not_active();
	return check_summary("mailctl_queue_list");
}
