/* forward.c — a copy of the message back into the queue for remote alias
 * targets. The copy starts with "Delivered-To: ALIAS", so a message that comes
 * back here through the same alias is recognised as a loop and bounced, as
 * Postfix's local(8) does. */
#include "deliverd/forward.h"
#include "common/log.h"
#include "common/queue_proto.h"
#include "common/queue_submit.h"
#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define QUEUE_WAIT_MS 30000
#define COMMIT_WAIT_MS 120000

static void set(struct mresult *mr, int result, const char *status, const char *text)
{
	mr->result = result;
	strlcpy_t(mr->status, status, sizeof mr->status);
	strlcpy_t(mr->text, text, sizeof mr->text);
}

/* Delivered-To, smtpd's header fields, then the message as spooled. */
static int write_copy(const struct forward *f, int out)
{
	char *dt = xasprintf("Delivered-To: %s\r\n", f->alias);
	int r = write_all(out, dt, strlen(dt));
	free(dt);
	if (r == 0 && f->prepend && *f->prepend)
		r = write_all(out, f->prepend, strlen(f->prepend));
	char buf[65536];
	for (uint64_t off = 0; r == 0 && off < f->size;) {
		size_t want = f->size - off < sizeof buf ? (size_t)(f->size - off) : sizeof buf;
		ssize_t n = pread(f->fd, buf, want, (off_t)off);
		if (n <= 0) {
			errno = n < 0 ? errno : EIO;
			return -1;
		}
		r = write_all(out, buf, (size_t)n);
		off += (uint64_t)n;
	}
	return r == 0 ? fsync(out) : -1;
}

void forward_deliver(const struct forward *f, struct mresult *mr)
{
	char err[512];
	unsigned hops;
	bool looped;
	memset(mr, 0, sizeof *mr);
	maildir_scan_header(f->fd, f->size, f->alias, &hops, &looped);
	if (looped || hops > f->max_hops) {
		set(mr, MD_BOUNCE, "5.4.6", "");
		snprintf(mr->text, sizeof mr->text, looped ? "mail forwarding loop for %s"
			 : "too many hops forwarding %s", f->alias);
		return;
	}
	struct queue_submission qs;
	uint32_t st = queue_submit_open(f->queue_sock, QUEUE_WAIT_MS, &qs, err, sizeof err);
	if (st == QS_OK && write_copy(f, qs.fd) < 0) {
		snprintf(err, sizeof err, "writing the forwarded copy failed: %s", strerror(errno));
		queue_submit_abort(&qs);
		st = QS_TEMPFAIL;
	} else if (st == QS_OK) {
		char *client = xasprintf("forward of %s for %s", f->qid, f->alias);
		const struct queue_envelope env = {
			.sender = f->sender,
			/* RFC 8689 4.1: every forwarded copy keeps the TLS request */
			.flags = f->flags & (QF_8BITMIME | QF_SMTPUTF8 | QF_REQUIRETLS | QF_TLS_OPTIONAL),
			.client = client, .nrcpt = f->ntargets, .rcpts = f->targets };
		st = queue_submit_commit(&qs, &env, COMMIT_WAIT_MS, err, sizeof err);
		free(client);
	}
	if (st == QS_OK) {
		set(mr, MD_DELIVERED, "2.0.0", "");
		snprintf(mr->text, sizeof mr->text, "forwarded to %zu remote address%s as %s",
			 f->ntargets, f->ntargets == 1 ? "" : "es", qs.qid);
		log_info("%s: forwarded %s to %zu remote address(es): new queue id %s", f->qid,
			 f->alias, f->ntargets, qs.qid);
	} else if (st == QS_REJECT) {
		set(mr, MD_BOUNCE, "5.3.0", err);
	} else {
		set(mr, MD_DEFER, st == QS_NOSPACE ? "4.3.1" : "4.3.0", err);
	}
}
