/* check.h — the tiny unit test harness: CHECK(cond) records a pass or a
 * failure with file:line; each test program ends with check_summary(), which
 * prints "N passed, N failed" and returns the exit status. */
#ifndef TERN_CHECK_H
#define TERN_CHECK_H

#include <string.h>

extern int check_passed, check_failed;
void check_record(int ok, const char *expr, const char *file, int line);
int check_summary(const char *name);
/* A temporary directory for this test program (removed at summary). */
const char *check_tmpdir(void);
/* Write data (a string) to DIR/SUB/NAME, created or truncated; 0 or -1. */
int check_put_file(const char *dir, const char *sub, const char *name, const char *data);

#define CHECK(c) check_record(!!(c), #c, __FILE__, __LINE__)
/* Evaluates each argument once. */
#define CHECK_STR(a, b) do { const char *ca_ = (a), *cb_ = (b); \
	check_record(ca_ && cb_ && !strcmp(ca_, cb_), #a " == " #b, __FILE__, __LINE__); } while (0)

#endif
