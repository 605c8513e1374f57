/* mailstore.h — a user's Maildir++: folder names, folder operations and
 * subscriptions. Paths are relative to the Maildir root (the session's working
 * directory), so a session confined to its Maildir can use them.
 *
 * Folder names use "." as the hierarchy separator, as Maildir++ does on disk:
 * INBOX is the root itself, "Sent" is ".Sent/", "Archive.2024" is
 * ".Archive.2024/". A name is refused if it is empty, has an empty component,
 * "/" or a control character, or is longer than MS_MAX_NAME. */
#ifndef TERN_MAILSTORE_H
#define TERN_MAILSTORE_H

#include <stdbool.h>
#include <stddef.h>

#define MS_MAX_NAME	512
#define MS_MAX_FOLDERS	10000
#define MS_SEP		'.'

/* Special-use folders created for a new user (RFC 6154). */
extern const char *const ms_special_folders[];	/* "Sent", "Drafts", ... NULL */
/* The special-use attributes of a folder ("\\Sent", or several separated by
 * spaces), NULL for none: those given at CREATE (RFC 6154 USE, kept in the
 * folder's directory, MS_SPECIALUSE_FILE) or, without that file, the
 * default of a top-level special folder name. The string lives until the
 * next call. */
#define MS_SPECIALUSE_FILE	"tern-specialuse"
const char *ms_special_use(const char *name);
/* flag as tern spells it if a folder can carry it here (\Archive \Drafts
 * \Junk \Sent \Trash, any case), else NULL: \All and \Flagged are virtual,
 * tern has no such folders. */
const char *ms_special_use_canon(const char *flag);
/* Record the attributes (space-separated, validated by the caller) of name. 0 or -1. */
int ms_set_special_use(const char *name, const char *uses);

/* Names are stored as IMAP4rev1 clients send them: modified UTF-7 (RFC
 * 3501 5.1.3) beyond ASCII. ms_name_to_utf8: the UTF-8 form (NULL when the
 * stored name is not canonical modified UTF-7, e.g. raw 8-bit from another
 * tool); ms_name_from_utf8: the stored form of a UTF-8 name (NULL when it is
 * not UTF-8); ms_name_plain: printable ASCII without '&', the same in both
 * forms. */
char *ms_name_to_utf8(const char *stored);
char *ms_name_from_utf8(const char *utf8);
bool ms_name_plain(const char *s);

/* Folder directory for an IMAP name ("." for INBOX), malloc'd; NULL if invalid. */
char *ms_folder_dir(const char *name);
bool ms_valid_name(const char *name);
bool ms_is_inbox(const char *name);

/* Create cur/new/tmp under root (INBOX) if missing; with fresh, also the
 * special-use folders. 0 or -1. */
int ms_ensure_maildir(const char *root, bool with_specials);
/* 1 exists, 0 not. */
int ms_exists(const char *name);
/* 0, -1 (errno: EEXIST, EINVAL, ...). Parents are created as needed. */
int ms_create(const char *name);
/* Remove the folder's messages and directory (children stay). */
int ms_delete(const char *name);
/* Rename a folder and its children; renaming INBOX moves its messages. */
int ms_rename(const char *from, const char *to);

/* Every folder name (INBOX first, then sorted); malloc'd array of strings. */
size_t ms_list(char ***names);
void ms_free_list(char **names, size_t n);

/* Subscriptions, kept in "subscriptions" (one name a line, as Courier/Dovecot). */
size_t ms_subscriptions(char ***names);
int ms_subscribe(const char *name, bool on);

#endif
