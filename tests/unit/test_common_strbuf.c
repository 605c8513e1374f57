/* Unit tests: the growable buffer — growth, the NUL after the bytes, room and
 * commit, drop, take, and size arithmetic that would wrap refused. */
#include "common/strbuf.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_growth(void)
{
	struct strbuf b = { 0 };
	size_t grew = 0, cap = 0;
	for (int i = 0; i < 100000; i++) {
		strbuf_addc(&b, (char)('a' + i % 26));
		if (b.cap != cap) {
			grew++;
			cap = b.cap;
		}
	}
	CHECK(b.len == 100000);
	CHECK(b.cap > b.len && b.p[b.len] == '\0');
	CHECK(b.p[0] == 'a' && b.p[25] == 'z' && b.p[99999] == (char)('a' + 99999 % 26));
	CHECK(grew <= 12);	/* doubling: 64 .. 128 KiB, not one realloc per byte */
	strbuf_free(&b);
	CHECK(!b.p && !b.len && !b.cap);
}

static void test_text(void)
{
	struct strbuf b = { 0 };
	char *s = strbuf_take(&b);
	CHECK_STR(s, "");	/* nothing added: still a string */
	free(s);
	strbuf_add(&b, "", 0);
	CHECK(b.p && b.len == 0 && b.p[0] == '\0');
	strbuf_adds(&b, "hello, ");
	strbuf_add(&b, "world!!", 5);
	CHECK_STR(b.p, "hello, world");
	strbuf_drop(&b, 7);
	CHECK_STR(b.p, "world");
	CHECK(b.len == 5);
	strbuf_drop(&b, 99);
	CHECK(b.len == 0 && b.p[0] == '\0');
	strbuf_adds(&b, "x");
	strbuf_reset(&b);
	CHECK(b.len == 0 && b.p && b.p[0] == '\0');
	strbuf_adds(&b, "kept");
	s = strbuf_take(&b);
	CHECK_STR(s, "kept");
	CHECK(!b.p && !b.len && !b.cap);
	free(s);
}

static void test_room(void)
{
	struct strbuf b = { 0 };
	char *d = strbuf_room(&b, 0);
	CHECK(d && d[0] == '\0');	/* reserved only: still a C string */
	d = strbuf_room(&b, 1000);
	CHECK(b.cap >= 1001 && b.len == 0);
	memset(d, 'q', 1000);
	strbuf_commit(&b, 3);
	CHECK_STR(b.p, "qqq");
	size_t cap = b.cap;
	strbuf_room(&b, cap - 1 - b.len);	/* fits exactly: no growth */
	CHECK(b.cap == cap);
	strbuf_room(&b, cap - b.len);
	CHECK(b.cap > cap);
	strbuf_free(&b);
}

static void test_grow_cap(void)
{
	CHECK(strbuf_grow_cap(0, 0) == 64);
	CHECK(strbuf_grow_cap(0, 63) == 64);
	CHECK(strbuf_grow_cap(64, 63) == 64);
	CHECK(strbuf_grow_cap(64, 64) == 128);
	CHECK(strbuf_grow_cap(64, 1000) == 1024);
	CHECK(strbuf_grow_cap(0, SIZE_MAX) == 0);	/* no room for the NUL */
	CHECK(strbuf_grow_cap(0, SIZE_MAX - 1) == SIZE_MAX);
	/* past half the address space doubling would wrap: exactly the need */
	CHECK(strbuf_grow_cap(SIZE_MAX / 2 + 1, SIZE_MAX / 2 + 5) == SIZE_MAX / 2 + 6);
	CHECK(strbuf_grow_cap(SIZE_MAX / 4 + 1, SIZE_MAX / 2 + 5) > SIZE_MAX / 2 + 5);
}

/* Run fn in a child; true if it ended through fatal() (exit status 1). */
static bool dies(void (*fn)(void))
{
	pid_t pid = fork();
	if (pid == 0) {
		close(2);	/* the fatal line is expected */
		fn();
		_exit(0);
	}
	int st;
	return pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 1;
}

static void add_past_size_max(void)
{
	struct strbuf b = { 0 };
	strbuf_adds(&b, "abc");
	b.len = SIZE_MAX - 2;	/* as if that much were held: the sum wraps */
	strbuf_add(&b, "0123456789", 10);
}

static void room_for_size_max(void)
{
	struct strbuf b = { 0 };
	strbuf_room(&b, SIZE_MAX);
}

static void commit_past_room(void)
{
	struct strbuf b = { 0 };
	strbuf_room(&b, 10);
	strbuf_commit(&b, b.cap);
}

static void add_small(void)
{
	struct strbuf b = { 0 };
	strbuf_adds(&b, "fine");
	strbuf_free(&b);
}

static void test_overflow_refused(void)
{
	CHECK(dies(add_past_size_max));
	CHECK(dies(room_for_size_max));
	CHECK(dies(commit_past_room));
	CHECK(!dies(add_small));
}

/* Blocks free_wipe released, and how many of them still held a byte. */
static size_t wiped_blocks, dirty_blocks;

static void observe(const void *p, size_t n)
{
	wiped_blocks++;
	for (size_t i = 0; i < n; i++)
		if (((const unsigned char *)p)[i]) {
			dirty_blocks++;
			break;
		}
}

static bool zeros(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* A sensitive buffer (a password on its way to authd) leaves no copy behind:
 * not in the block growth gives up, not in the tail a drop vacates, not after
 * a reset, not in the block it frees. An ordinary one is not wiped. */
static void test_sensitive(void)
{
	free_wipe_observer = observe;
	struct strbuf b = { .sensitive = true };
	strbuf_adds(&b, "a1 LOGIN alice secret-password");
	CHECK(wiped_blocks == 0);	/* the first block replaced nothing */
	char big[200];
	memset(big, 'x', sizeof big);
	size_t cap = b.cap;
	strbuf_add(&b, big, sizeof big);
	CHECK(b.cap > cap && wiped_blocks == 1 && dirty_blocks == 0);
	CHECK(!memcmp(b.p, "a1 LOGIN alice secret-password", 30));	/* kept in the new block */
	size_t len = b.len;
	strbuf_drop(&b, 9);
	CHECK(!memcmp(b.p, "alice secret", 12));
	CHECK(b.p[b.len] == '\0' && zeros(b.p + b.len, len - b.len));
	len = b.len;
	strbuf_reset(&b);
	CHECK(b.len == 0 && zeros(b.p, len));
	strbuf_adds(&b, "secret-password");
	strbuf_free(&b);
	CHECK(wiped_blocks == 2 && dirty_blocks == 0 && !b.p && b.sensitive);
	struct strbuf o = { 0 };
	strbuf_adds(&o, "public");
	strbuf_add(&o, big, sizeof big);
	strbuf_free(&o);
	CHECK(wiped_blocks == 2);
	free_wipe_observer = NULL;
}

int main(void)
{
	test_sensitive();
	test_growth();
	test_text();
	test_room();
	test_grow_cap();
	test_overflow_refused();
	return check_summary("test_common_strbuf");
}
