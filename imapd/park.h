/* park.h — the state of a session parked in IDLE (docs/ARCHITECTURE.md,
 * "Idle sessions: the holder"): what a new session process needs to resume
 * it, its codec (one for the session's park request and for the ticket),
 * and the ticket: that state plus user and client, sealed by the mail role
 * with a key derived from the run secret, so the holder, which keeps it,
 * can neither make nor change one. */
#ifndef TERN_IMAPD_PARK_H
#define TERN_IMAPD_PARK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ipc_msg;

/* session -> mail role, on the session's URLAUTH channel: two directories
 * (IDLE_HOLD_DIR's fields, imapd/idlehold.h) then the state with the client
 * connection attached. */
#define IDLE_PARK_DIR	343
#define IDLE_PARK_REQ	344
#define IDLE_TICKET	345	/* the session ticket's body (never sent as a message) */
#define IDLE_VIEW_TICKET 346	/* the view ticket's body (never sent either) */
/* an update process -> the mail role (idle_update, idlepark.c): u32
 * IDLE_UPDATE_*, bytes the untagged responses, the view's fields as
 * park_put_view puts them, then new/'s and cur/'s mtimes (u64 sec, u32
 * nsec each) taken before its sync. */
#define IDLE_UPDATE_RES	349

#define PARK_READONLY	1
#define PARK_CONDSTORE	2
#define PARK_QRESYNC	4
#define PARK_REV2	8
#define PARK_UTF8	16
#define PARK_TLS	32

#define PARK_KWS_MAX	4096	/* the keywords FLAGS has named, space-separated */
#define PARK_RECENT_MAX	1024	/* the UIDs \Recent to the session, as a UID set */

struct park_state {
	char *user, *ip;	/* only in a ticket (the mail role fills them in) */
	char *tag;		/* of the IDLE */
	char *folder;		/* as stored, "" when nothing is selected */
	char *kws;
	char *recent;		/* UIDs \Recent to the session ("5:9,12"), "" for none */
	uint32_t flags;		/* PARK_* */
	uint32_t uidvalidity, uidnext, exists;
	uint64_t modseq;
	uint64_t idle_start;	/* unix time the IDLE began (idle_max counts from it) */
};

/* The state's fields into m (user and ip only when with_user). */
void park_put(struct ipc_msg *m, const struct park_state *ps, bool with_user);
/* Read them back (strings copied); false when malformed (ps freed). */
bool park_get(struct ipc_msg *m, struct park_state *ps, bool with_user);
void park_free(struct park_state *ps);

/* The fields of the view alone (folder ... modseq: what the client was told). */
void park_put_view(struct ipc_msg *m, const struct park_state *ps);
bool park_get_view(struct ipc_msg *m, struct park_state *ps);

/* A ticket is two sealed halves: the session's own (user, client, IDLE tag
 * and start) and the view (user and the view's fields), which every
 * session parked in the same state shares byte for byte, so the holder can
 * group sessions by it and an update can replace it for all of them. The
 * seal of half (view or not) of ps (malloc'd, *len set); secret is the run
 * secret. */
unsigned char *park_seal(const unsigned char *secret, const struct park_state *ps, bool view,
			 size_t *len);
/* Open both halves into ps: false if a seal does not verify, one is
 * malformed, or they name different users. */
bool park_open(const unsigned char *secret, const void *session, size_t slen, const void *view,
	       size_t vlen, struct park_state *ps);
/* Open a view ticket alone (user and the view's fields). */
bool park_open_view(const unsigned char *secret, const void *view, size_t len,
		    struct park_state *ps);

#endif
