/* auth_boxes.h — the mailboxes an address expands to (authd's EXPAND and
 * ROUTE replies) and their form on the wire, shared by the auth channel and
 * the queue channel's QUEUE_JOB (queue_codec.h). */
#ifndef TERN_AUTH_BOXES_H
#define TERN_AUTH_BOXES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ipc_msg;

/* The most mailboxes one list on the wire may hold (an EXPAND or ROUTE reply,
 * one recipient of a QUEUE_JOB). authd's expansion stops far below it
 * (RESOLVE_MAX_BOXES), so a reader never has to cut a list short. */
#define AUTH_MAX_BOXES 1024

struct auth_mailbox {
	char *mailbox;		/* user@domain */
	char *folder;		/* "" = INBOX, else the +detail (deliverd checks .detail exists) */
	uint64_t quota;		/* bytes, 0 = none */
	bool remote;		/* mailbox is an address elsewhere: forward the message */
};

/* A list of mailboxes on the wire (EXPAND and ROUTE replies, and QUEUE_JOB,
 * queue_proto.h): u32 n, then n times mailbox, folder, u64 quota, u32 remote. */
void auth_boxes_put(struct ipc_msg *m, const struct auth_mailbox *b, size_t n);
/* Decode into *b (n of them, malloc'd; auth_boxes_free); false, with nothing
 * to free, when malformed or longer than max. */
bool auth_boxes_get(struct ipc_msg *m, size_t max, struct auth_mailbox **b, size_t *n);
void auth_boxes_free(struct auth_mailbox *b, size_t n);
/* A copy of the n boxes b (malloc'd, never NULL; auth_boxes_free). */
struct auth_mailbox *auth_boxes_dup(const struct auth_mailbox *b, size_t n);
/* Bytes the list takes in a message (to keep one under IPC_MAX_PAYLOAD). */
size_t auth_boxes_size(const struct auth_mailbox *b, size_t n);

#endif
