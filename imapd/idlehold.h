/* idlehold.h — parked IDLE sessions: the channel between imapd's mail role
 * and the holder (`tern-imapd --idle`, idlehold.c). docs/ARCHITECTURE.md
 * ("Idle sessions: the holder") has the whole design.
 *
 * The mail role connects to RUN/imap-idle.sock (the holder serves only the
 * mail store account, root and its own uid) and keeps that connection. One
 * descriptor travels per message, so a park is three messages in a row:
 *   IDLE_HOLD_DIR  u32 which (0 new/, 1 cur/), u64 sec, u32 nsec: the mtime
 *                  the session saw before its last sync; fd: the directory
 *                  (O_PATH: the holder can only fstat it)
 *   IDLE_HOLD_DIR  the other one
 *   IDLE_HOLD      bytes session ticket, bytes view ticket (both opaque to
 *                  the holder, park.h), u64 deadline (unix time of
 *                  idle_max); fd: the client connection
 * and the holder answers, on the same connection, when the session must run
 * again:
 *   IDLE_WAKE      u32 why (IDLE_WHY_*), bytes session ticket, bytes view
 *                  ticket; fd: the client
 * or, when the folder of a group of sessions parked with one view ticket
 * changed, asks for what to tell them:
 *   IDLE_UPDATE    u64 group id, u32 sessions in the group, bytes view ticket
 *   IDLE_UPDATED   (mail role -> holder) u64 group id, u32 IDLE_UPDATE_*,
 *                  bytes the untagged responses, bytes the new view
 *                  ticket, then new/'s and cur/'s mtimes (u64 sec, u32 nsec
 *                  each) the update synced against
 * The holder writes those bytes to every session of the group and keeps
 * them parked. It reads no byte of the client: it peeks one to tell input
 * from a hang-up, which it answers by closing the connection. */
#ifndef TERN_IMAPD_IDLEHOLD_H
#define TERN_IMAPD_IDLEHOLD_H

#include "common/config.h"
#include "common/instance.h"

#define IDLE_HOLD_SOCK	"imap-idle.sock"

#define IDLE_HOLD_DIR	340
#define IDLE_HOLD	341
#define IDLE_WAKE	342
#define IDLE_UPDATE	347
#define IDLE_UPDATED	348

#define IDLE_UPDATE_DONE	0	/* write the bytes, keep the new view ticket */
#define IDLE_UPDATE_FAILED	1	/* wake each session of the group instead */
#define IDLE_UPDATE_LATER	2	/* the mail role is busy: ask again later */

/* Untagged responses one update may carry (more: the sessions are woken). */
#define IDLE_UPDATE_OUT_MAX	(128 * 1024)

#define IDLE_WHY_INPUT		1	/* the client sent something */
#define IDLE_WHY_CHANGE		2	/* new/ or cur/ of its folder changed */
#define IDLE_WHY_DEADLINE	3	/* idle_max reached: the session says BYE */
#define IDLE_WHY_UNHELD		4	/* (mail role only) the holder did not take the park */

/* A session the holder did not take stays in its process this long before
 * it tries to park again (a fork per try, not one per idle_park_after). */
#define IDLE_UNHELD_SECS	60

#define IDLE_TICKET_MAX	(8 * 1024)

/* How often the holder looks at the folders' mtimes, and how recent an mtime
 * must be to be looked at once more after that (cmd_idle.c's polling has
 * the same two numbers and the same reasons). */
#define IDLE_HOLD_POLL_MS	500
#define IDLE_HOLD_RACY_SECS	2

int hold_main(struct instance *in, struct cfg *conf);

#endif
