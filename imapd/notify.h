/* notify.h — NOTIFY (RFC 5465): which mailboxes a session watches for which
 * events, and the unsolicited responses it sends when they happen.
 *
 * cmd_notify.c parses NOTIFY SET/NONE into a struct notify_spec; notify.c
 * runs it: one inotify instance per session (the per-uid limit is shared by
 * every session of the mail store account) watching the Maildir root (folders
 * made, removed and renamed; the subscriptions file) and new/ and cur/ of
 * each watched folder; past that limit, the same polled (dirpoll.h). Changes to folders other than the selected one are
 * compared with what the session last saw and reported as STATUS; folder
 * and subscription changes as LIST; the selected folder, when a "selected"
 * filter asks for it, is synchronised between commands (view_sync) and its
 * new messages fetched with the MessageNew fetch attributes. IDLE uses the
 * same instance while NOTIFY is on. */
#ifndef TERN_IMAPD_NOTIFY_H
#define TERN_IMAPD_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>

struct session;

/* Bounds on what a client may ask for (NO [NOTIFICATIONOVERFLOW] beyond). */
#define NOTIFY_MAX_GROUPS	16	/* event groups in one NOTIFY SET */
#define NOTIFY_MAX_NAMES	100	/* mailbox names over all groups */
#define NOTIFY_MAX_WATCHED	100	/* folders watched at once (two watches each) */
#define NOTIFY_MAX_FETCH_ATT	1024	/* octets of MessageNew's fetch attributes */

enum notify_event {
	NE_MESSAGE_NEW = 1,
	NE_MESSAGE_EXPUNGE = 2,
	NE_FLAG_CHANGE = 4,
	NE_ANNOTATION_CHANGE = 8,
	NE_MAILBOX_NAME = 16,
	NE_SUBSCRIPTION_CHANGE = 32,
	NE_MAILBOX_METADATA_CHANGE = 64,
	NE_SERVER_METADATA_CHANGE = 128,
};
/* What tern can report (METADATA is not offered: no annotation events). */
#define NE_SUPPORTED (NE_MESSAGE_NEW | NE_MESSAGE_EXPUNGE | NE_FLAG_CHANGE | NE_MAILBOX_NAME | \
		      NE_SUBSCRIPTION_CHANGE)
#define NE_MESSAGE (NE_MESSAGE_NEW | NE_MESSAGE_EXPUNGE | NE_FLAG_CHANGE | NE_ANNOTATION_CHANGE)

enum notify_filter { NF_INBOXES, NF_PERSONAL, NF_SUBSCRIBED, NF_SUBTREE, NF_MAILBOXES };

struct notify_group {
	enum notify_filter filter;
	unsigned events;
	char **names;		/* NF_SUBTREE / NF_MAILBOXES: stored names */
	size_t nnames;
};

struct notify_spec {
	bool status;		/* NOTIFY SET STATUS: a STATUS of each watched folder now */
	bool sel_set;		/* a selected or selected-delayed filter with events */
	bool sel_immediate;	/* "selected": expunges at once, even during FETCH/STORE/SEARCH */
	unsigned sel_events;
	char *fetch_att;	/* MessageNew (...) of the selected filter, or NULL */
	struct notify_group *groups;
	size_t ngroups;
};

struct ip;
enum notify_parsed { NP_NONE, NP_SET, NP_BAD, NP_OVERFLOW, NP_BADEVENT };
/* The arguments of NOTIFY after the command name: NP_SET returns the spec;
 * NP_BAD may set *err (a BAD's text). fetch_ok checks MessageNew's
 * attribute list "(...)". */
struct notify_spec *notify_parse(struct ip *ip, bool (*fetch_ok)(const char *atts),
				 enum notify_parsed *res, const char **err);
void notify_spec_free(struct notify_spec *sp);
/* The event names of mask, space-separated (for BADEVENT). */
const char *notify_event_names(unsigned mask, char *buf, size_t len);

/* Start sp (taken over, freed on failure) for the session, replacing any NOTIFY in effect;
 * with sp->status, the STATUS responses first. NULL on success, else the
 * tagged NO text. */
const char *notify_start(struct session *s, struct notify_spec *sp);
/* NOTIFY NONE, and the end of the session. */
void notify_stop(struct session *s);

/* For the renderer and the selected folder: does NOTIFY ask for expunges of
 * the selected folder at once, and does it leave out others' flag changes? */
bool notify_immediate_expunges(const struct session *s);
bool notify_hides_flag_changes(const struct session *s);
/* After each command: follow the selection (SELECT, CLOSE...), send the
 * FETCH of new messages that MessageNew asks for. */
void notify_after_command(struct session *s);
/* IDLE begins or ends: while NOTIFY is on, IDLE watches through it. */
bool notify_idle(struct session *s, bool on);

#endif
