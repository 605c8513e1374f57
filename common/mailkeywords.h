/* mailkeywords.h — IMAP keywords in Maildir file names, as Dovecot keeps them.
 *
 * A folder's "dovecot-keywords" file maps the letters a..z to keyword names,
 * one "INDEX NAME" line each (0 is 'a'); a message's keywords are those
 * lowercase letters after the standard flags in its ":2," info part. So other
 * Maildir tools (Dovecot among them) see the same keywords, and an index
 * rebuilt from the files recovers them. Only 26 keywords fit a folder's file
 * names; further ones live in the index alone. Names compare case-insensitively
 * (IMAP keywords are). Callers hold the folder's index lock. */
#ifndef TERN_MAILKEYWORDS_H
#define TERN_MAILKEYWORDS_H

#include <stdbool.h>
#include <stddef.h>

#define MKW_FILE	"dovecot-keywords"
#define MKW_SLOTS	26
#define MKW_NAME_MAX	200

struct mkw {
	char *name[MKW_SLOTS];	/* NULL: free slot */
	bool changed;		/* a slot was taken: save before using its letter */
};

/* Read DIR's keyword file (a missing or unreadable one is empty). */
void mkw_load(const char *dir, struct mkw *k);
void mkw_free(struct mkw *k);
/* Write the file (a temporary file renamed over it); 0 or -1. */
int mkw_save(const char *dir, struct mkw *k);
/* The letters (sorted, NUL-terminated, at most 26) for a space-separated
 * keyword list, taking free slots for new names (k->changed set). */
void mkw_letters(struct mkw *k, const char *keywords, char out[MKW_SLOTS + 1]);
/* The keywords an info part's lowercase letters name, space-separated,
 * together with those of keep (the index's list) that have no slot; malloc'd. */
char *mkw_names(const struct mkw *k, const char *info, const char *keep);

#endif
