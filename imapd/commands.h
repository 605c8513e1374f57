/* commands.h — what IMAP command files share: the handlers (one file per
 * group of commands, the table in commands.c), helpers between them, and the
 * selected folder. Command files include this; session.c does not. */
#ifndef TERN_IMAPD_COMMANDS_H
#define TERN_IMAPD_COMMANDS_H

#include "imapd/session.h"
#include "imapd/untagged.h"
#include "imapd/view.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mi;

/* ---- the selected folder (selected.c): the view kept in step with its
 * index, changes reported through untagged.c ---- */
/* Open the selected folder's index and report changes since the last call
 * (EXISTS, RECENT, FETCH FLAGS, and EXPUNGE when allowed). NULL on error
 * (a NO was not yet sent). */
struct mi *view_sync(struct session *s, bool allow_expunge);
/* Open the index of folder dir (NULL with a log line on failure); when it is
 * the selected one, what the open moved from new/ stays \Recent to us. */
struct mi *open_folder(struct session *s, const char *dir);
/* The same with an index already open (after this session changed it). */
struct mi *view_sync_reuse(struct session *s, struct mi *mi);
/* Open a folder by IMAP name for the view (SELECT/EXAMINE). */
int view_open(struct session *s, const char *name, bool readonly);
/* CONDSTORE is on from now (ENABLE, or a CONDSTORE-enabling command: RFC
 * 7162 3.1); turning it on with a mailbox selected reports its
 * HIGHESTMODSEQ. */
void condstore_enable(struct session *s);
/* Expunge the given view indexes (ascending; done last first), reporting
 * EXPUNGE or VANISHED unless quiet. */
void expunge_indexes(struct session *s, struct mi *mi, size_t *idx, size_t n, bool quiet);

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
/* FETCH atts of the messages with these UIDs as unsolicited responses, with
 * no tagged reply (NOTIFY's MessageNew); nothing while a FETCH is sending. */
void fetch_unsolicited(struct session *s, const char *atts, const uint32_t *uids, size_t n);
void cmd_notify(struct session *s, struct ip *ip, bool uid);
void cmd_store(struct session *s, struct ip *ip, bool uid);
void cmd_search(struct session *s, struct ip *ip, bool uid);
void cmd_expunge(struct session *s, struct ip *ip, bool uid);
void cmd_close(struct session *s, struct ip *ip, bool uid);
void cmd_unselect(struct session *s, struct ip *ip, bool uid);
void cmd_copy(struct session *s, struct ip *ip, bool uid);
void cmd_move(struct session *s, struct ip *ip, bool uid);
void cmd_idle(struct session *s, struct ip *ip, bool uid);
void idle_input(struct session *s);
/* IDLE from s->idle_start on, with s->idle_tag set: watch the folder, park
 * after idle_park_after, end at idle_max (cmd_idle.c). */
void idle_begin(struct session *s);
/* idle_max is reached: BYE. */
void idle_expire(struct session *s);
/* ---- parking (idle_park.c, docs/ARCHITECTURE.md "Idle sessions") ---- */
/* Try to park the IDLE after idle_park_after. */
void idle_park_arm(struct session *s);
/* session_ops.resume: the parked session's selection and IDLE again. */
void idle_resume(struct session *s, struct park_state *ps, uint32_t why);
/* An update process: what the clients of parked sessions in state ps are
 * owed, and their new state, sent on chan (IDLE_UPDATE_RES, park.h). */
void idle_update(struct session *s, const struct park_state *ps, bool shared, int chan);
/* s->sel as the parked client knew it (view_resume.c); -1 when the folder
 * cannot be brought back to that (another UIDVALIDITY, tombstones gone). */
int view_resume(struct session *s, const struct park_state *ps);
/* The session's channel to the mail role (cmd_urlauth.c), or -1. */
int urlauth_channel(void);

/* "1:3,7" of an ascending list of UIDs (APPENDUID, COPYUID). */
void s_uid_set(struct evbuffer *b, const uint32_t *u, size_t n);
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
void cmd_sort(struct session *s, struct ip *ip, bool uid);
void cmd_cancelupdate(struct session *s, struct ip *ip, bool uid);
void cmd_compress(struct session *s, struct ip *ip, bool uid);
void cmd_getquotaroot(struct session *s, struct ip *ip, bool uid);
void cmd_getquota(struct session *s, struct ip *ip, bool uid);
void cmd_setquota(struct session *s, struct ip *ip, bool uid);
void cmd_getmetadata(struct session *s, struct ip *ip, bool uid);
void cmd_setmetadata(struct session *s, struct ip *ip, bool uid);
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
/* URLAUTH (cmd_urlauth.c) */
void cmd_genurlauth(struct session *s, struct ip *ip, bool uid);
void cmd_resetkey(struct session *s, struct ip *ip, bool uid);
void cmd_urlfetch(struct session *s, struct ip *ip, bool uid);
/* Where the mail role serves URLs of other users (common/urlfetch.h): set
 * before sessions start. */
void urlauth_set_remote(const char *path);
/* A session process, before its seccomp filter (which allows no new stream
 * socket): connect to it once; each request then goes over that channel. */
void urlauth_connect_remote(void);
/* Ask it for url (URLF_* flags): 0 with r's octets to read, -1 (NIL). */
struct urlfetch_reply;
int urlauth_remote(const char *url, unsigned flags, struct urlfetch_reply *r);

/* The command table and the simple commands (commands.c), for session_run. */
extern const struct session_ops imap_session_ops;

#endif
