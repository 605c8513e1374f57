/* fuzz_mboxname.c — libFuzzer target for mailbox names (common/mailstore.c,
 * behind imapd/mboxname.c and JMAP's folder names): the stored modified UTF-7
 * form and the UTF-8 form of IMAP4rev2 / UTF8=ACCEPT sessions, and the
 * mapping of a name to its Maildir++ folder directory.
 *
 * Invariants: each conversion that succeeds goes back to exactly what it was
 * given (a stored name has one canonical form); a folder directory is "." for
 * INBOX or ".NAME" inside the Maildir: no '/', no ".." component, no control
 * character, never longer than MS_MAX_NAME + 1.
 * Run: make fuzz (long) or make fuzz-smoke (part of make check). */
#include "common/mailstore.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_dir(const char *name)
{
	char *d = ms_folder_dir(name);
	if (!d) {
		if (ms_is_inbox(name) || ms_valid_name(name))
			abort();
		return;
	}
	size_t n = strlen(d);
	if (d[0] != '.' || n > MS_MAX_NAME + 1 || strchr(d, '/') || !strcmp(d, "..") ||
	    strstr(d, "..") || (n > 1 && d[n - 1] == '.'))
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)d[i] < 0x20 || d[i] == 0x7f)
			abort();
	free(d);
}

static void check_forms(const char *s)
{
	char *u = ms_name_to_utf8(s);
	if (u) {
		char *back = ms_name_from_utf8(u);
		if (!back || strcmp(back, s))
			abort();
		free(back);
		free(u);
	}
	char *st = ms_name_from_utf8(s);
	if (st) {
		char *back = ms_name_to_utf8(st);
		if (!back || strcmp(back, s))
			abort();
		if (ms_name_plain(s) != !strcmp(st, s))
			abort();
		free(back);
		free(st);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	check_dir(s);
	check_forms(s);
	free(s);
	return 0;
}
