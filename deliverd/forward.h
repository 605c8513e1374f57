/* forward.h — the local agent forwarding a message to the addresses outside our
 * domains that an alias names: a copy goes back into the queue (a new queue
 * entry with the original envelope sender), where the remote agent takes it. */
#ifndef TERN_DELIVERD_FORWARD_H
#define TERN_DELIVERD_FORWARD_H

#include "deliverd/maildir.h"

#include <stddef.h>
#include <stdint.h>

struct forward {
	const char *queue_sock;
	const char *alias;	/* the address being expanded (its Delivered-To) */
	const char *sender;	/* envelope sender, "" for <> */
	const char *qid;	/* the original queue id, for logs */
	uint32_t flags;		/* QF_* of the original */
	const char *prepend;	/* header fields smtpd put on top ("" if none) */
	int fd;			/* the spooled message, size bytes from offset 0 */
	uint64_t size;
	const char *const *targets;
	size_t ntargets;
	unsigned max_hops;
};

/* Queue the copy (blocking: call on a worker thread). mr: delivered when the
 * copy is on disk in the queue, deferred when the queue cannot take it now,
 * bounced (5.4.6) on a forwarding loop or too many hops. */
void forward_deliver(const struct forward *f, struct mresult *mr);

#endif
