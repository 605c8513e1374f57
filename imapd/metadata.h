/* metadata.h — METADATA (RFC 5464): annotations on folders and on the
 * server, their grammar and their storage.
 *
 * A folder's entries live in DIR/tern-metadata, beside its index in its own
 * directory, so RENAME takes them along and DELETE removes them with the
 * folder (RFC 5464 3.3: they belong to the mailbox); INBOX's stay with INBOX
 * when RENAME INBOX moves its messages away. The server's entries ("" as the
 * mailbox) are the user's own, in tern-server-metadata at the Maildir root.
 * /private and /shared entries are kept apart by their names: with one user
 * per Maildir both are that user's.
 *
 * The file: per entry "<len> <name>\n<len octets>\n", names lower-cased and
 * sorted. Each write replaces the file by rename under a flock of its
 * directory, so a reader never sees half of it and two sessions changing
 * entries of the same folder do not lose each other's change.
 *
 * Grammar (RFC 5464 5), parsed here without a session (fuzz_imap runs it):
 *   getmetadata = "GETMETADATA" [SP "(" option *(SP option) ")"] SP mailbox
 *                 SP (entry / "(" entry *(SP entry) ")")
 *   option      = "MAXSIZE" SP number / "DEPTH" SP ("0" / "1" / "infinity")
 *   setmetadata = "SETMETADATA" SP mailbox SP "(" entry SP value
 *                 *(SP entry SP value) ")"
 *   value       = nstring / literal8 */
#ifndef TERN_IMAPD_METADATA_H
#define TERN_IMAPD_METADATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ip;

/* Bounds, each with the reply RFC 5464 gives for it. */
#define MD_MAX_VALUE	(16 * 1024)	/* octets of one value: NO [METADATA MAXSIZE n] */
#define MD_MAX_ENTRIES	100	/* entries of one folder (or the server): NO [METADATA TOOMANY] */
#define MD_MAX_NAME	256	/* octets of an entry name: BAD */
#define MD_MAX_ARGS	100	/* entries named in one command: BAD */
#define MD_FILE		"tern-metadata"
#define MD_SERVER_FILE	"tern-server-metadata"

struct md_entry {
	char *name;	/* lower case */
	char *value;	/* NULL: remove (a change of SETMETADATA) */
	size_t len;
};
struct md_set {
	struct md_entry *e;	/* sorted by name, names unique */
	size_t n;
};

/* Is name a valid entry name ("/private/..." or "/shared/...", no '*', '%',
 * control characters, "//" or trailing '/'; bare "/private" and "/shared"
 * only where allow_root: GETMETADATA with DEPTH)? Lower-cases it in place.
 * false with *why. */
bool md_entry_valid(char *name, bool allow_root, const char **why);

/* Set (value non-NULL) or remove entry name; takes both. */
void md_put(struct md_set *set, char *name, char *value, size_t len);
const struct md_entry *md_get(const struct md_set *set, const char *name);
void md_free(struct md_set *set);

/* The entries of file path (none if it does not exist). 0, or -1 (unreadable
 * or damaged: logged). */
int md_load(const char *path, struct md_set *set);
/* Replace the file's entries by set (an empty set removes the file). 0 or -1. */
int md_save(const char *path, const struct md_set *set);
/* Apply changes to the entries of file path in dir under dir's lock.
 * 0, -1 (storage error, logged), -2 (more than MD_MAX_ENTRIES: nothing
 * changed). */
int md_update(const char *dir, const char *path, const struct md_set *changes);

/* Parsed GETMETADATA / SETMETADATA arguments. */
enum md_depth { MD_DEPTH_0, MD_DEPTH_1, MD_DEPTH_INF };
struct md_req {
	char *mailbox;		/* as sent (arg_mailbox); "" for the server */
	uint64_t maxsize;	/* GETMETADATA MAXSIZE (UINT64_MAX: none) */
	enum md_depth depth;
	char **entries;		/* GETMETADATA: the entries asked for */
	size_t nentries;
	struct md_set changes;	/* SETMETADATA: values, NULL for NIL */
	uint64_t longest;	/* SETMETADATA: the largest value given */
};
/* Parse from after the command name to the end of the command. 0, or -1
 * with *why (BAD). */
int md_parse_get(struct ip *ip, struct md_req *r, const char **why);
int md_parse_set(struct ip *ip, struct md_req *r, const char **why);
void md_req_free(struct md_req *r);

/* Is entry e reported for the request root at depth d (RFC 5464 4.2.2)? */
bool md_matches(const char *root, const char *e, enum md_depth d);

#endif
