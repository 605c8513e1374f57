/* fuzz_queue_codec.c — libFuzzer target for every decoder of the queue
 * channel (common/queue_codec.h): the input is the payload of a frame on
 * queue.sock, given to each decoder in turn, with and without a file
 * descriptor attached (QUEUE_JOB and QUEUE_NEW_RES carry one), the delivery
 * status request and answer (QUEUE_STATUS_REQ/RES) included.
 *
 * Invariants checked: what a decoder accepts passes the checks it promises
 * (a valid queue id, a valid prepend, counts in range, a job's mailbox lists
 * included), and its encoder turns the decoded fields back into the very
 * bytes of the input (the commit's empty prepend, which decodes as none,
 * excepted). Run: make fuzz (long) or make
 * fuzz-smoke (make check). */
#include "tests/fuzz/fuzz_ipc.h"
#include "common/ipc.h"
#include "common/queue_codec.h"
#include "common/queue_proto.h"
#include "common/util.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const uint8_t *in;
static size_t in_len;
/* Opened once: a dup per attached fd is far cheaper than an open per input
 * (the decoders and encoders take the fd and close it). */
static int null_fd = -1;

/* The input as a received message: false if it is no valid frame payload. */
static bool frame(struct ipc_msg *m, bool with_fd)
{
	bool ok = fuzz_ipc_payload(in, in_len, m);
	if (ok && with_fd)
		m->fd = fcntl(null_fd, F_DUPFD_CLOEXEC, 0);
	return ok;
}

/* The re-encoded payload is the input, or (slack > 0) the input less slack
 * bytes at its end. */
static void same(struct ipc_msg *r, size_t slack)
{
	if (r->hdr.len + slack != in_len || memcmp(r->data, in, r->hdr.len))
		abort();
	ipc_msg_free(r);
}

static void commit(void)
{
	struct ipc_msg m, r;
	if (!frame(&m, false))
		return;
	struct queue_commit c;
	ipc_msg_init(&r, QUEUE_COMMIT_REQ, 0);
	if (queue_commit_get(&m, &c)) {
		if (!queue_id_valid(c.qid) || !c.nrcpt || c.nrcpt > QUEUE_MAX_RCPTS || c.ret > 2)
			abort();
		queue_commit_put(&r, &c);
		uint32_t k = 0;
		const char *a, *o, *p;
		uint32_t notify;
		for (; k < c.nrcpt && queue_commit_get_rcpt(&m, &a, &notify, &o); k++)
			queue_commit_put_rcpt(&r, a, notify, o);
		if (k == c.nrcpt && queue_commit_get_end(&m, &p)) {
			if (p && (!*p || !queue_prepend_valid(p)))
				abort();
			queue_commit_put_end(&r, p);
			same(&r, r.hdr.len == in_len ? 0 : 5);	/* 5: an explicit "" */
		}
	}
	ipc_msg_free(&r);
	ipc_msg_free(&m);
}

static void new_res(bool with_fd)
{
	struct ipc_msg m, r;
	if (!frame(&m, with_fd))
		return;
	uint32_t st;
	const char *qid;
	int fd;
	if (queue_new_res_get(&m, &st, &qid, &fd)) {
		if ((st == QS_OK) != (fd >= 0) || (fd >= 0 && !queue_id_valid(qid)))
			abort();
		ipc_msg_init(&r, QUEUE_NEW_RES, 0);
		queue_new_res_put(&r, st, qid, fd);
		same(&r, 0);
	} else if (fd != -1) {
		abort();
	}
	ipc_msg_free(&m);
}

static void small_requests(void)
{
	struct ipc_msg m, r;
	const char *a, *b;
	if (frame(&m, false)) {
		if (queue_abort_get(&m, &a)) {
			ipc_msg_init(&r, QUEUE_ABORT_REQ, 0);
			queue_abort_put(&r, a);
			same(&r, 0);
		}
		ipc_msg_free(&m);
	}
	if (frame(&m, false)) {
		if (queue_admin_get(&m, &a, &b)) {
			ipc_msg_init(&r, QUEUE_ADMIN_REQ, 0);
			queue_admin_put(&r, a, b);
			same(&r, 0);
		}
		ipc_msg_free(&m);
	}
	if (frame(&m, false)) {
		uint32_t st;
		if (queue_commit_res_get(&m, &st, &a, &b)) {
			ipc_msg_init(&r, QUEUE_COMMIT_RES, 0);
			queue_commit_res_put(&r, st, a, b);
			same(&r, 0);
		}
		ipc_msg_free(&m);
	}
	if (frame(&m, false)) {
		uint32_t t;
		const unsigned char *key;
		if (queue_hello_get(&m, &t, &key)) {
			ipc_msg_init(&r, QUEUE_AGENT_HELLO, 0);
			queue_hello_put(&r, t, key);
			same(&r, 0);
		}
		ipc_msg_free(&m);
	}
	if (frame(&m, false)) {
		if (queue_empty_get(&m) != (in_len == 0))
			abort();
		ipc_msg_free(&m);
	}
}

static void admin_res(void)
{
	struct ipc_msg m, r;
	if (!frame(&m, false))
		return;
	uint32_t st, n;
	const char **lines = queue_admin_res_get(&m, &st, &n);
	if (lines) {
		ipc_msg_init(&r, QUEUE_ADMIN_RES, 0);
		queue_admin_res_put(&r, st, n, (char *const *)lines);
		same(&r, 0);
		free(lines);
	}
	ipc_msg_free(&m);
}

static void job(bool with_fd)
{
	struct ipc_msg m, r;
	if (!frame(&m, with_fd))
		return;
	struct queue_job j;
	if (queue_job_get(&m, &j)) {
		if (j.fd < 0 || !queue_id_valid(j.qid) || !j.nrcpt || j.nrcpt > QUEUE_MAX_RCPTS ||
		    !queue_prepend_valid(j.prepend))
			abort();
		for (uint32_t k = 0; k < j.nrcpt; k++) {
			const struct queue_job_rcpt *rc = &j.rcpt[k];
			if (!rc->addr || !rc->orcpt || !rc->hop || rc->nbox > AUTH_MAX_BOXES ||
			    (rc->nbox && !rc->boxes))
				abort();
			for (size_t b = 0; b < rc->nbox; b++)
				if (!rc->boxes[b].mailbox || !rc->boxes[b].folder)
					abort();
		}
		ipc_msg_init(&r, QUEUE_JOB, 0);
		queue_job_put(&r, &j);	/* takes j.fd */
		queue_job_done(&j);
		same(&r, 0);
	}
	ipc_msg_free(&m);
}

static void job_res(void)
{
	struct ipc_msg m, r;
	if (!frame(&m, false))
		return;
	const char *qid;
	uint32_t n;
	struct queue_rcpt_result *res = queue_job_res_get(&m, &qid, &n);
	if (res) {
		if (!queue_id_valid(qid) || n > QUEUE_MAX_RCPTS)
			abort();
		ipc_msg_init(&r, QUEUE_JOB_RES, 0);
		queue_job_res_put(&r, qid, n);
		for (uint32_t k = 0; k < n; k++) {
			if (res[k].result > QR_BOUNCE)
				abort();
			queue_job_res_put_one(&r, &res[k]);
		}
		same(&r, 0);
		free(res);
	}
	ipc_msg_free(&m);
}

static void status(void)
{
	struct ipc_msg m, r;
	const char *qid, *user;
	if (frame(&m, false)) {
		if (queue_status_req_get(&m, &qid, &user)) {
			if (!queue_id_valid(qid) || !*user)
				abort();
			ipc_msg_init(&r, QUEUE_STATUS_REQ, 0);
			queue_status_req_put(&r, qid, user);
			same(&r, 0);
		}
		ipc_msg_free(&m);
	}
	if (!frame(&m, false))
		return;
	uint32_t st, n;
	struct queue_rcpt_status *res = queue_status_res_get(&m, &st, &n);
	if (res) {
		if ((st != QS_OK && st != QS_NOTFOUND && st != QS_TEMPFAIL) || (st != QS_OK && n) ||
		    n > QUEUE_MAX_RCPTS)
			abort();
		ipc_msg_init(&r, QUEUE_STATUS_RES, 0);
		queue_status_res_put(&r, st, n);
		for (uint32_t k = 0; k < n; k++) {
			if (res[k].delivered > QD_UNKNOWN)
				abort();
			queue_status_res_put_one(&r, &res[k]);
		}
		same(&r, 0);
		free(res);
	}
	ipc_msg_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > IPC_MAX_PAYLOAD)
		return 0;
	if (null_fd < 0)
		null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	in = data;
	in_len = size;
	commit();
	new_res(false);
	new_res(true);
	small_requests();
	admin_res();
	job(false);
	job(true);
	job_res();
	status();
	return 0;
}
