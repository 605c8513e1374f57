/* session.h — one authenticated IMAP session in its own process, confined to
 * one user's Maildir (the working directory). */
#ifndef TERN_IMAPD_SESSION_H
#define TERN_IMAPD_SESSION_H

#include "imapd/parser.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdbool.h>
#include <stdint.h>

struct mi;
struct mi_rec;
struct fetch_job;

/* Output flow: a streaming FETCH adds to the output while less than
 * S_OUT_HIGH octets wait, and is asked for more when they fall to S_OUT_LOW. */
#define S_OUT_HIGH	(256 * 1024)
#define S_OUT_LOW	(64 * 1024)

struct vmsg {
	uint32_t uid;
	uint32_t flags;
	char *kw;		/* space-separated keywords */
	bool recent;
	bool gone;		/* expunged by someone else, not yet reported */
	uint64_t modseq;
};

/* The selected folder as this session has told the client about it. */
struct view {
	char *name, *dir;
	bool readonly;
	uint32_t uidvalidity, uidnext;
	uint64_t modseq;
	struct vmsg *m;
	size_t n, cap;
	/* SEARCHRES (RFC 5182): the UIDs of the last SEARCH ... RETURN (SAVE),
	 * sorted; "$" names those still here. Lives as long as the selection. */
	uint32_t *saved;
	size_t nsaved;
	/* UIDs an index open other than view_sync's moved from new/ (\Recent
	 * to this session), reported at the next view_sync */
	uint32_t *fresh;
	size_t nfresh;
};

struct session_limits {
	uint64_t line_max, cmd_max, message_max;
	uint64_t idle_timeout, idle_max;
	uint64_t quota;		/* bytes the user may store, 0 = none (from authd) */
};

struct session {
	struct event_base *base;
	struct bufferevent *bev;
	struct cmdreader cr;
	struct session_limits lim;
	char *user, *ip;
	char *tag;		/* tag of the current command */
	struct view *sel;	/* NULL unless a folder is selected */
	bool closing;
	bool idling;
	char *idle_tag;
	struct event *idle_timer, *inotify_ev;
	int inotify_fd;
	int bad_commands;
	bool condstore;		/* CONDSTORE enabled (RFC 7162): MODSEQ in FETCH responses */
	bool compressed;
	bool qresync;		/* QRESYNC enabled: VANISHED instead of EXPUNGE */
	/* IMAP4rev2 enabled (RFC 9051): no \Recent or RECENT, SEARCH answered
	 * by ESEARCH, UTF-8 mailbox names, OK [CLOSED] and a LIST on SELECT */
	bool rev2;
	/* the APPEND literal being written to DIR/tmp/BASE (cmd_append.c) */
	struct {
		int fd;			/* -1: none */
		char *dir, *base;
		const char *err;	/* refused: the NO to give at the command's end */
	} append;
	struct fetch_job *fetch;	/* a FETCH still sending (no command is read meanwhile) */
	bool pumping;		/* fetch_pump is running */
	/* fetch bookkeeping of the current command */
	bool in_fetch_like;	/* FETCH/STORE/SEARCH (non-UID): no EXPUNGE responses */
};

/* Run the session on fd until it ends; pending = bytes already read. */
int session_run(int fd, const char *user, const char *tag, const char *ip, bool tls,
		const void *pending, size_t npending, const struct session_limits *lim);

/* ---- output ---- */
void s_out(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
struct evbuffer *s_buf(struct session *s);
void s_ok(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void s_no(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void s_bad(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void s_flags(struct evbuffer *b, uint32_t flags, const char *kw, bool recent);
/* " MODSEQ (n)" when CONDSTORE is enabled. */
void s_modseq(struct session *s, struct evbuffer *b, uint64_t modseq);

/* ---- the selected folder ---- */
/* Open the selected folder's index and report changes since the last call
 * (EXISTS, RECENT, FETCH FLAGS, and EXPUNGE when allowed). NULL on error
 * (a NO was not yet sent). */
struct mi *view_sync(struct session *s, bool allow_expunge);
/* Open the index of folder dir (NULL with a log line on failure); when it is
 * the selected one, what the open moved from new/ stays \Recent to us. */
struct mi *open_folder(struct session *s, const char *dir);
/* The same with an index already open (after this session changed it). */
struct mi *view_sync_reuse(struct session *s, struct mi *mi);
void view_free(struct view *v);
/* "* VANISHED [(EARLIER) ]uid-set" for uids (sorted here). */
void report_vanished(struct session *s, uint32_t *uids, size_t n, bool earlier);
/* Sequence number (1-based) of uid, or 0. */
uint32_t view_seq(const struct view *v, uint32_t uid);
/* Every number of a message sequence set names a message (RFC 3501 9: else BAD). */
bool view_seqs_valid(const struct view *v, const struct seqset *set);
/* Is the message at view index i in set (numbers are UIDs when uid)? Knows "$". */
bool view_set_has(const struct view *v, const struct seqset *set, size_t i, bool uid);
/* Replace the saved search result (UIDs in any order; n may be 0). */
void view_save_result(struct view *v, const uint32_t *uids, size_t n);
/* Resolve a set to a sorted list of 0-based view indexes. */
size_t view_resolve(const struct view *v, const struct seqset *set, bool uid, size_t **idx);
/* Open a folder by IMAP name for the view (SELECT/EXAMINE). */
int view_open(struct session *s, const char *name, bool readonly);

/* ---- commands ---- */
typedef void (*cmd_fn)(struct session *s, struct ip *ip, bool uid);
void cmd_list(struct session *s, struct ip *ip, bool uid);
/* "* LIST (attributes) "." name" for one existing mailbox (SELECT, RFC 9051). */
void list_mailbox_line(struct session *s, const char *name);
/* Are there folders below name (which may itself not exist)? */
bool mailbox_has_children(const char *name);
void cmd_lsub(struct session *s, struct ip *ip, bool uid);
void cmd_create(struct session *s, struct ip *ip, bool uid);
void cmd_delete(struct session *s, struct ip *ip, bool uid);
void cmd_rename(struct session *s, struct ip *ip, bool uid);
void cmd_subscribe(struct session *s, struct ip *ip, bool uid);
void cmd_unsubscribe(struct session *s, struct ip *ip, bool uid);
void cmd_status(struct session *s, struct ip *ip, bool uid);
void cmd_select(struct session *s, struct ip *ip, bool uid);
void cmd_examine(struct session *s, struct ip *ip, bool uid);
void cmd_namespace(struct session *s, struct ip *ip, bool uid);
void cmd_append(struct session *s, struct ip *ip, bool uid);
void cmd_fetch(struct session *s, struct ip *ip, bool uid);
/* Send more of the FETCH in progress while the output has room; false once
 * it is complete (its tagged reply sent). */
bool fetch_pump(struct session *s);
void fetch_job_free(struct fetch_job *j);
void cmd_store(struct session *s, struct ip *ip, bool uid);
void cmd_search(struct session *s, struct ip *ip, bool uid);
void cmd_expunge(struct session *s, struct ip *ip, bool uid);
void cmd_close(struct session *s, struct ip *ip, bool uid);
void cmd_unselect(struct session *s, struct ip *ip, bool uid);
void cmd_copy(struct session *s, struct ip *ip, bool uid);
void cmd_move(struct session *s, struct ip *ip, bool uid);
void cmd_idle(struct session *s, struct ip *ip, bool uid);
void idle_input(struct session *s);

/* Folder name argument (astring, INBOX case-insensitive) -> malloc'd name as
 * stored (from UTF-8 when ip->utf8, IMAP4rev2; NULL with ip->bad if invalid). */
char *arg_mailbox(struct ip *ip);
/* ---- mailbox names (mboxname.c): stored form = modified UTF-7 ---- */
char *mbox_from_utf8(const char *name);	/* NULL: not UTF-8 */
char *mbox_to_utf8(const char *name);	/* NULL: not modified UTF-7 */
/* The stored name as the session shows it: UTF-8 under IMAP4rev2. */
char *mbox_display(const struct session *s, const char *stored);
/* Append the stored name, shown as the session expects, quoted. */
void s_mailbox(const struct session *s, struct evbuffer *b, const char *stored);
/* The folder's directory ("." or ".Name"), NULL if the name is invalid. */
char *folder_dir(const char *name);
/* Format "dd-Mon-yyyy hh:mm:ss +0000". */
void fmt_internaldate(int64_t t, char out[32]);
/* Parse an IMAP date ("1-Feb-1994") or date-time; -1 if malformed. */
int64_t parse_imap_date(const char *s, bool with_time);
/* Flag list "(\Seen $Label)" or a single flag; returns false on syntax error.
 * Keywords appended space-separated to kw (bounded). */
bool parse_flags(struct ip *ip, bool parens_required, uint32_t *flags, char *kw, size_t kwlen);
/* STATUS items "(MESSAGES UNSEEN ...)" -> bit set; -1 on syntax error. */
int parse_status_items(struct ip *ip, unsigned *items);
/* Write "* STATUS name (...)"; -1 if the folder cannot be opened. */
int status_line(struct session *s, const char *name, unsigned items);
/* Parse search keys (converted from charset) to the end of the command and
 * evaluate them on the selected folder: *idx receives the matching view
 * indexes, *mi the open index (caller closes). 0, -1 syntax error, -2 bad
 * charset, -3 folder unavailable. */
int search_select(struct session *s, struct ip *ip, const char *charset, struct mi **mi,
		  size_t **idx, size_t *n);
void cmd_sort(struct session *s, struct ip *ip, bool uid);
void cmd_compress(struct session *s, struct ip *ip, bool uid);
/* Switch the session to another bufferevent (COMPRESS). */
void session_set_bev(struct session *s, struct bufferevent *bev);
void cmd_getquotaroot(struct session *s, struct ip *ip, bool uid);
void cmd_getquota(struct session *s, struct ip *ip, bool uid);
void cmd_setquota(struct session *s, struct ip *ip, bool uid);
/* Would adding bytes exceed the quota? (replies NO [OVERQUOTA] when true) */
bool over_quota(struct session *s, uint64_t bytes);
/* The same without a reply. */
bool quota_exceeded(struct session *s, uint64_t bytes);
/* CR_APPEND_LITERAL: where the literal goes (a spool file in the folder's
 * tmp/, or inline); sends "+" or, for a refused synchronising one, the NO. */
void append_literal(struct session *s, const char *tag);
/* Drop a spooled APPEND literal that no command will use. */
void append_discard(struct session *s);
void cmd_thread(struct session *s, struct ip *ip, bool uid);
/* Expunge the given view indexes (descending), reporting EXPUNGE untagged. */
void expunge_indexes(struct session *s, struct mi *mi, size_t *idx, size_t n, bool quiet);

#endif
