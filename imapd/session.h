/* session.h — one authenticated IMAP session in its own process, confined to
 * one user's Maildir (the working directory): its state, its output, and the
 * input loop (session.c).
 *
 * This is the API command files use. session.c itself knows no command: it
 * reads commands and hands each to the layer above through struct
 * session_ops (commands.c fills it in), so the include graph runs one way,
 * cmd_*.c -> commands.h -> session.h. */
#ifndef TERN_IMAPD_SESSION_H
#define TERN_IMAPD_SESSION_H

#include "imapd/parser.h"
#include "imapd/view.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct append_state;
struct fetch_job;
struct notify;
struct park_state;
struct session;

/* What the command layer does for the input loop. */
struct session_ops {
	/* a complete command is in s->cr.cmd */
	void (*command)(struct session *s);
	/* input while IDLE */
	void (*idle_input)(struct session *s);
	/* CR_APPEND_LITERAL: where an APPEND literal goes (tag of its command) */
	void (*append_literal)(struct session *s, const char *tag);
	/* after each command: drop an APPEND literal no command took */
	void (*append_discard)(struct session *s);
	/* more of a FETCH still sending; false once it is complete */
	bool (*fetch_pump)(struct session *s);
	/* the session ends: free what the commands hold */
	void (*end)(struct session *s);
	/* a resumed session: select and enter IDLE as the parked one was */
	void (*resume)(struct session *s, struct park_state *ps, uint32_t why);
	/* a group of parked sessions in state ps: answer on chan what their
	 * clients are owed (IDLE_UPDATE_RES) */
	void (*update)(struct session *s, const struct park_state *ps, bool shared, int chan);
};

/* Output flow: a streaming FETCH adds to the output while less than
 * S_OUT_HIGH octets wait, and is asked for more when they fall to S_OUT_LOW. */
#define S_OUT_HIGH	(256 * 1024)
#define S_OUT_LOW	(64 * 1024)

struct session_limits {
	uint64_t line_max, cmd_max, message_max;
	uint64_t idle_timeout, idle_max;
	uint64_t park_after;	/* IDLE this long parks the session (0: never) */
	uint64_t quota;		/* bytes the user may store, 0 = none (from authd) */
};

struct session {
	const struct session_ops *ops;
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
	struct event *idle_timer;
	struct event *idle_ev;	/* IDLE's inotify event, or its poll timer without inotify */
	int inotify_fd;
	struct event *park_timer;	/* idle_park.c: when to try to park */
	time_t idle_start;	/* when the IDLE began (a resumed one: the first) */
	bool parked;		/* handed to the holder: write nothing more */
	/* an update for several parked sessions: new messages are \Recent to
	 * none of them (RFC 3501 2.3.2: to one session at most) and stay
	 * unclaimed */
	bool recent_unclaimed;
	bool tls;		/* the client speaks TLS (to the login process) */
	struct timespec idle_seen[2];	/* polling: mtimes of new/ and cur/ last seen */
	int bad_commands;
	bool condstore;		/* CONDSTORE enabled (RFC 7162): MODSEQ in FETCH responses */
	bool compressed;
	bool qresync;		/* QRESYNC enabled: VANISHED instead of EXPUNGE */
	/* IMAP4rev2 enabled (RFC 9051): no \Recent or RECENT, SEARCH answered
	 * by ESEARCH, UTF-8 mailbox names, OK [CLOSED] and a LIST on SELECT */
	bool rev2;
	/* ENABLE UTF8=ACCEPT (RFC 6855): UTF-8 mailbox names as IMAP4rev2 has
	 * them, no SEARCH CHARSET, APPEND's UTF8 (literal8) data */
	bool utf8;
	struct append_state *append;	/* the APPEND being received (cmd_append.c) */
	struct fetch_job *fetch;	/* a FETCH still sending (no command is read meanwhile) */
	struct notify *notify;		/* NOTIFY in effect (notify.h), or NULL */
	bool pumping;		/* fetch_pump is running */
	/* fetch bookkeeping of the current command */
	bool in_fetch_like;	/* FETCH/STORE/SEARCH (non-UID): no EXPUNGE responses */
};

/* Mailbox names in UTF-8 (IMAP4rev2 or UTF8=ACCEPT), else modified UTF-7. */
static inline bool s_utf8_names(const struct session *s)
{
	return s->rev2 || s->utf8;
}

/* Run the session on fd until it ends; pending = bytes already read. */
int session_run(int fd, const char *user, const char *tag, const char *ip, bool tls,
		const void *pending, size_t npending, const struct session_limits *lim,
		const struct session_ops *ops);

/* Run a session resumed from the holder (park.h) on fd until it ends. */
int session_resume(int fd, struct park_state *ps, uint32_t why, const struct session_limits *lim,
		   const struct session_ops *ops);

/* Compute an update for parked sessions in state ps (no client: the output
 * stays in the session's buffer for ops->update to send on chan). */
void session_update(int chan, const struct park_state *ps, bool shared,
		    const struct session_limits *lim, const struct session_ops *ops);

/* ---- output ---- */
void s_out(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
struct evbuffer *s_buf(struct session *s);
void s_ok(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void s_no(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void s_bad(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Switch the session to another bufferevent (COMPRESS). */
void session_set_bev(struct session *s, struct bufferevent *bev);

#endif
