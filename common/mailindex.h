/* mailindex.h — the Berkeley DB index of one Maildir folder.
 *
 * DIR/tern-index.db (btree) holds the folder header (UIDVALIDITY, UIDNEXT,
 * HIGHESTMODSEQ, the mtimes of new/ and cur/ at the last sync) and, per message,
 * its UID, file name in cur/, flags, keywords, MODSEQ, internal date, size in
 * CRLF octets and the cached ENVELOPE / BODYSTRUCTURE / BODY strings, so FETCH
 * of those never re-reads the file, and the decoded values of the envelope's
 * header fields (see mi_fields_*), so SEARCH on them does not either. Every access happens between mi_open and
 * mi_close under an exclusive flock of DIR/tern-index.lock, so sessions and
 * deliverd never see a half-written state.
 *
 * mi_open syncs with the Maildir first. It costs O(changes): when the mtimes of
 * new/ and cur/ are what the index recorded (and not too recent to trust), no
 * directory is read. Otherwise files in new/ move to cur/, unknown files get the
 * next UIDs (oldest first), vanished files are expunged and renamed files
 * (another Maildir tool changed flags) update their flags. Flags live in the
 * file names too (":2,DFRST", Maildir rules). A missing or unreadable index is
 * rebuilt from the files: only then does UIDVALIDITY change. */
#ifndef TERN_MAILINDEX_H
#define TERN_MAILINDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define MI_SEEN		0x01
#define MI_ANSWERED	0x02
#define MI_FLAGGED	0x04
#define MI_DELETED	0x08
#define MI_DRAFT	0x10
#define MI_ALLFLAGS	0x1f

#define MI_MAX_KEYWORDS_LEN 1024	/* space-separated keywords per message */

struct mi_rec {
	uint32_t uid;
	uint32_t flags;
	uint64_t modseq;
	int64_t idate;		/* internal date, seconds since the epoch */
	uint64_t size;		/* RFC822.SIZE: octets with CRLF line ends */
	int64_t savedate;	/* RFC 8514 save date: when this folder's index took the
				 * message (delivery, APPEND, COPY, MOVE); 0 unknown
				 * (indexed before tern kept it) */
	char *file;		/* name in cur/ */
	char *keywords;		/* space-separated, "" when none */
};

struct mi_header {
	uint32_t uidvalidity, uidnext;
	uint64_t modseq;	/* HIGHESTMODSEQ */
	uint32_t count;
	uint32_t first_recent;	/* messages from this UID on are \Recent to no session yet */
};

struct mi;

/* Lock, open and sync DIR's index (creating it, or rebuilding it when corrupt).
 * new_uids/n_new (optional) receive the UIDs of messages this call moved from
 * new/ (the caller's \Recent). NULL with a reason in why. */
struct mi *mi_open(const char *dir, uint32_t **new_uids, size_t *n_new, char *why, size_t whylen);
void mi_close(struct mi *mi);
const struct mi_header *mi_header(const struct mi *mi);

/* \Recent (RFC 3501 2.3.2): the messages from first_recent on are new to
 * every session; the one session that claims them (a read-write SELECT
 * seeing them first) shows them as \Recent. Returns the first_recent
 * before the claim (from it up to UIDNEXT are the claimer's). */
uint32_t mi_claim_recent(struct mi *mi);
/* How many messages have a UID >= uid. */
size_t mi_count_from(struct mi *mi, uint32_t uid);
/* Every record in UID order (malloc'd array; free with mi_recs_free). */
int mi_load(struct mi *mi, struct mi_rec **recs, size_t *n);
void mi_recs_free(struct mi_rec *recs, size_t n);
/* One record; 1 found, 0 not, -1 error. */
int mi_get(struct mi *mi, uint32_t uid, struct mi_rec *out);
void mi_rec_clear(struct mi_rec *r);

/* Set flags and keywords (NULL: unchanged) of uid: renames the file, bumps
 * MODSEQ; when they are what the record has already, nothing (no MODSEQ). Keywords are kept as the folder spells them (mailkeywords.h): read
 * the record back for the stored list. */
int mi_set_flags(struct mi *mi, uint32_t uid, uint32_t flags, const char *keywords);
/* Remove the message: unlink and drop its record. */
int mi_expunge(struct mi *mi, uint32_t uid);
/* Add a message from fd (read from offset 0; any line endings) with flags,
 * keywords and internal date; *uid set. Written to tmp/, fsync'd, renamed into cur/. */
int mi_add_fd(struct mi *mi, int fd, uint32_t flags, const char *keywords, int64_t idate,
	      uint32_t *uid);
/* A message already written (LF line ends) to DIR/tmp/base: fsync'd, dated
 * idate, renamed into cur/ with its flags, indexed; *uid set. The file is
 * removed on failure. APPEND writes its literal there as it arrives. */
int mi_add_tmp(struct mi *mi, const char *base, uint32_t flags, const char *keywords, int64_t idate,
	       uint32_t *uid);
/* The message file at path (another folder's, on this filesystem) hard-linked
 * into this folder under the same unique name, then as mi_add_tmp: MOVE keeps
 * the name, and with it the EMAILID (objectid.h). -1 when the name is known
 * here already or the link fails (the caller copies with mi_add_fd). */
int mi_add_link(struct mi *mi, const char *path, uint32_t flags, const char *keywords,
		int64_t idate, uint32_t *uid);
/* A new unique Maildir base name ("sec.Musec" "Ppid" "Qn.host"), malloc'd. */
char *mi_unique_name(void);
/* UIDs expunged after modseq (from the index's expunge records), malloc'd.
 * The index keeps the records of the last MI_MAX_TOMBSTONES expunges or so;
 * when those after modseq are no longer all there, the answer is every UID
 * below UIDNEXT the folder no longer holds, ascending: a superset, as RFC
 * 7162 allows for VANISHED (EARLIER) (see mailindex_tomb.h). */
#define MI_MAX_TOMBSTONES 20000
size_t mi_expunged_since(struct mi *mi, uint64_t modseq, uint32_t **uids);
/* The records changed (flags, keywords, new) after modseq, in UID order
 * (free with mi_recs_free): 0, or -1 when the index cannot tell (its change
 * log begins later): read them all then. */
int mi_changed_since(struct mi *mi, uint64_t modseq, struct mi_rec **recs, size_t *n);
/* Keep at most max expunge records per folder (0: MI_MAX_TOMBSTONES). */
void mi_set_tombstone_limit(size_t max);
/* Path of the message file (malloc'd). */
char *mi_path(const struct mi *mi, const struct mi_rec *r);
/* Cached strings of uid: which = 'E' envelope, 'S' bodystructure, 'B' body. */
char *mi_cached(struct mi *mi, uint32_t uid, char which);
/* The RFC 8970 preview of uid as mi_preview_put stored it (malloc'd), NULL
 * when none is stored yet: made on the first FETCH PREVIEW that reads the
 * file (mime_preview.h), so delivery does not pay for it. */
char *mi_preview_get(struct mi *mi, uint32_t uid);
int mi_preview_put(struct mi *mi, uint32_t uid, const char *text);

/* ---- cached header fields, for SEARCH ----
 * Per message, the index keeps the fields named in mi_field_cached (those of
 * the ENVELOPE: From, To, Cc, Bcc, Subject, Date, Sender, Reply-To,
 * Message-ID, In-Reply-To) exactly as SEARCH compares them: every occurrence,
 * unfolded, trimmed and RFC 2047-decoded to UTF-8 (mime_header_each then
 * mime_decode_words). The record is a version byte, a flags byte
 * (MI_FIELDS_DATE_ENC: a Date field had encoded words, so its cached value is
 * not the raw text SENTBEFORE/ON/SINCE read), then "name\0value\0" pairs,
 * names in lower case, in header order; after each From, To, Cc and Bcc
 * comes "@from" (...) with the field as mime_addr_text writes it, what
 * SEARCH FROM/TO/CC/BCC match. A message whose fields exceed
 * MI_FIELDS_MAX has no record (its searches read the file), and so has every
 * message of an index written before the record existed, until a search
 * that read the file stores it (mi_fields_put). */
#define MI_FIELDS_MAX	(64 * 1024)
/* version byte, bumped when the content changes: a record of another
 * version is treated as missing (rebuilt by the next search that reads the
 * file). 2: the "@field" address texts. */
#define MI_FIELDS_V	'\002'
#define MI_FIELDS_HDR	2	/* version and flags bytes */
#define MI_FIELDS_DATE_ENC 0x01

struct mime_msg;

/* Is the field name (any case) one the index caches? */
bool mi_field_cached(const char *name);
/* The record for message m's top-level header (malloc'd; *len set), NULL when
 * it would exceed MI_FIELDS_MAX. */
char *mi_fields_encode(const struct mime_msg *m, size_t *len);
/* The same, gathering the ENVELOPE's fields into env in the same walk (the
 * caller frees it with mime_env_free). */
struct mime_env;
char *mi_fields_encode_env(const struct mime_msg *m, struct mime_env *env, size_t *len);
int mi_fields_put(struct mi *mi, uint32_t uid, const char *rec, size_t len);
/* Read the records in UID order with one cursor: mi_fields_get returns uid's
 * record (valid until the next call or mi_fields_close) or NULL when it has
 * none; uids must be asked in ascending order. Nothing may be written to the
 * index while the cursor is open. */
struct mi_fcur;
struct mi_fcur *mi_fields_open(struct mi *mi);
const char *mi_fields_get(struct mi_fcur *c, uint32_t uid, size_t *len);
void mi_fields_close(struct mi_fcur *c);
/* Next "name\0value\0" pair of a record from *p (start at rec + MI_FIELDS_HDR): true
 * and *p advanced, false at the end or on a malformed record. */
bool mi_fields_next(const char **p, const char *end, const char **name, const char **value);

/* Flags <-> Maildir info letters. */
uint32_t mi_flags_from_name(const char *file);
/* Drop the index files of DIR (rebuilt on next open). */
int mi_drop(const char *dir);

#endif
