/* The queue channel's messages (queue_codec.h): what is encoded decodes the
 * same, and a message with bytes after its last field, or a field out of its
 * range, is refused. */
#include "common/queue_codec.h"
#include "common/queue_proto.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* m as the receiver sees it (encoded, then decoded); m is freed. */
static void wire(struct ipc_msg *m, struct ipc_msg *out)
{
	size_t n;
	unsigned char *b = ipc_encode(m, &n);
	CHECK(ipc_decode(b, n, out) == (long)n);
	free(b);
	ipc_msg_free(m);
}

static void commit_msg(struct ipc_msg *out, const char *prepend, bool trailing)
{
	struct ipc_msg m;
	ipc_msg_init(&m, QUEUE_COMMIT_REQ, 7);
	queue_commit_put(&m, &(struct queue_commit){ .qid = "65A1B2C3D4E5F601", .sender = "a@x.test",
		.flags = 3, .envid = "env", .ret = 1, .client = "c [127.0.0.1]", .authuser = "u",
		.nrcpt = 2 });
	queue_commit_put_rcpt(&m, "b@y.test", 6, "rfc822;b@y.test");
	queue_commit_put_rcpt(&m, "c@y.test", 0, "");
	queue_commit_put_end(&m, prepend);
	if (trailing)
		ipc_put_u32(&m, 0);
	wire(&m, out);
}

/* Decode a commit request: true when every part is accepted. */
static bool read_commit(struct ipc_msg *m, const char **prepend)
{
	struct queue_commit c;
	if (!queue_commit_get(m, &c) || c.nrcpt != 2)
		return false;
	CHECK_STR(c.qid, "65A1B2C3D4E5F601");
	CHECK_STR(c.sender, "a@x.test");
	CHECK(c.flags == 3 && c.ret == 1);
	CHECK_STR(c.envid, "env");
	CHECK_STR(c.client, "c [127.0.0.1]");
	CHECK_STR(c.authuser, "u");
	const char *a, *o;
	uint32_t notify;
	CHECK(queue_commit_get_rcpt(m, &a, &notify, &o));
	CHECK_STR(a, "b@y.test");
	CHECK_STR(o, "rfc822;b@y.test");
	CHECK(notify == 6);
	CHECK(queue_commit_get_rcpt(m, &a, &notify, &o));
	CHECK_STR(a, "c@y.test");
	return queue_commit_get_end(m, prepend);
}

static void test_commit(void)
{
	struct ipc_msg m;
	const char *p;
	commit_msg(&m, "Authentication-Results: h; none\r\n", false);
	CHECK(read_commit(&m, &p));
	CHECK_STR(p, "Authentication-Results: h; none\r\n");
	ipc_msg_free(&m);
	commit_msg(&m, NULL, false);
	CHECK(read_commit(&m, &p) && p == NULL);
	ipc_msg_free(&m);
	commit_msg(&m, "X: y\r\n", true);
	CHECK(!read_commit(&m, &p));
	ipc_msg_free(&m);
	commit_msg(&m, NULL, true);
	CHECK(!read_commit(&m, &p));
	ipc_msg_free(&m);
	/* more recipients than the channel allows */
	struct ipc_msg big, r;
	ipc_msg_init(&big, QUEUE_COMMIT_REQ, 1);
	queue_commit_put(&big, &(struct queue_commit){ .qid = "65A1B2C3D4E5F601", .sender = "", .envid = "",
		.client = "", .authuser = "", .nrcpt = QUEUE_MAX_RCPTS + 1 });
	wire(&big, &r);
	struct queue_commit c;
	CHECK(!queue_commit_get(&r, &c));
	ipc_msg_free(&r);
	/* a prepend that would end the header early, or starts with a space */
	commit_msg(&m, "X: y\r\n\r\nBody: z\r\n", false);
	CHECK(!read_commit(&m, &p));
	ipc_msg_free(&m);
	commit_msg(&m, " folded\r\n", false);
	CHECK(!read_commit(&m, &p));
	ipc_msg_free(&m);
}

static void test_ids_and_prepends(void)
{
	CHECK(queue_id_valid("65A1B2C3D4E5F608"));
	CHECK(!queue_id_valid("65a1b2c3d4e5f608"));
	CHECK(!queue_id_valid("65A1B2C3"));
	CHECK(!queue_id_valid("../../etc/passwd"));
	CHECK(!queue_id_valid(NULL));
	CHECK(queue_prepend_valid(""));
	CHECK(queue_prepend_valid("A: b\r\n\tc\r\nD: e\r\n"));
	CHECK(!queue_prepend_valid("A: b\n"));
	CHECK(!queue_prepend_valid("A: b\rc\r\n"));
	CHECK(!queue_prepend_valid("A: b"));
	/* an empty first line (it ended the header before the message's own) */
	CHECK(!queue_prepend_valid("\r\n"));
	CHECK(!queue_prepend_valid("\r\nX: y\r\n"));
	CHECK(!queue_prepend_valid("no colon\r\n"));
}

/* A QUEUE_JOB with two recipients, maybe with a field after its end. */
static void job_msg(struct ipc_msg *out, bool trailing, bool fd)
{
	struct auth_mailbox boxes[2] = { { "b@y.test", "news", 100, false },
					 { "d@far.test", "", 0, true } };
	struct queue_job_rcpt rc[2] = {
		{ .idx = 0, .addr = "b@y.test", .orcpt = "", .notify = 0, .hop = "",
		  .boxes = boxes, .nbox = 2 },
		{ .idx = 3, .addr = "c@z.test", .orcpt = "rfc822;c@z.test", .notify = 6,
		  .hop = "mx.z.test" } };
	struct ipc_msg m;
	ipc_msg_init(&m, QUEUE_JOB, 0);
	queue_job_put(&m, &(struct queue_job){ .qid = "65A1B2C3D4E5F601", .sender = "a@x.test",
		.flags = 1, .size = 1234, .envid = "e1", .ret = 2, .nrcpt = 2, .rcpt = rc,
		.prepend = "X-A: b\r\n", .fd = open("/dev/null", O_RDONLY | O_CLOEXEC) });
	if (trailing)
		ipc_put_str(&m, "");
	int f = m.fd;
	m.fd = -1;
	wire(&m, out);
	if (fd)
		out->fd = f;
	else
		close(f);
}

static void test_job(void)
{
	struct ipc_msg m;
	struct queue_job j;
	job_msg(&m, false, true);
	CHECK(queue_job_get(&m, &j));
	CHECK_STR(j.qid, "65A1B2C3D4E5F601");
	CHECK_STR(j.sender, "a@x.test");
	CHECK(j.flags == 1 && j.size == 1234 && j.ret == 2 && j.nrcpt == 2 && j.fd >= 0);
	CHECK_STR(j.envid, "e1");
	CHECK_STR(j.prepend, "X-A: b\r\n");
	CHECK(j.rcpt[1].idx == 3 && j.rcpt[1].notify == 6);
	CHECK_STR(j.rcpt[0].addr, "b@y.test");
	CHECK_STR(j.rcpt[1].orcpt, "rfc822;c@z.test");
	CHECK_STR(j.rcpt[1].hop, "mx.z.test");
	/* the routing lookup's mailboxes: the first recipient's two, none for the other */
	CHECK(j.rcpt[0].nbox == 2 && j.rcpt[1].nbox == 0);
	CHECK_STR(j.rcpt[0].boxes[0].mailbox, "b@y.test");
	CHECK_STR(j.rcpt[0].boxes[0].folder, "news");
	CHECK(j.rcpt[0].boxes[0].quota == 100 && !j.rcpt[0].boxes[0].remote);
	CHECK_STR(j.rcpt[0].boxes[1].mailbox, "d@far.test");
	CHECK(j.rcpt[0].boxes[1].remote);
	close(j.fd);
	queue_job_done(&j);
	ipc_msg_free(&m);
	/* trailing bytes, or no message file: refused, the fd stays with m */
	job_msg(&m, true, true);
	CHECK(!queue_job_get(&m, &j) && m.fd >= 0);
	ipc_msg_free(&m);
	job_msg(&m, false, false);
	CHECK(!queue_job_get(&m, &j));
	ipc_msg_free(&m);
}

/* A one-recipient QUEUE_JOB whose mailbox list says n boxes and holds
 * `have` of them, each with `remote` as its remote flag. */
static void boxes_msg(struct ipc_msg *out, uint32_t n, uint32_t have, uint32_t remote)
{
	struct ipc_msg m;
	ipc_msg_init(&m, QUEUE_JOB, 0);
	ipc_put_str(&m, "65A1B2C3D4E5F601");
	ipc_put_str(&m, "a@x.test");
	ipc_put_u32(&m, 0);
	ipc_put_u64(&m, 10);
	ipc_put_str(&m, "");
	ipc_put_u32(&m, 0);
	ipc_put_u32(&m, 1);
	ipc_put_u32(&m, 0);
	ipc_put_str(&m, "b@y.test");
	ipc_put_str(&m, "");
	ipc_put_u32(&m, 0);
	ipc_put_str(&m, "");
	ipc_put_u32(&m, n);
	for (uint32_t i = 0; i < have; i++) {
		ipc_put_str(&m, "b@y.test");
		ipc_put_str(&m, "");
		ipc_put_u64(&m, 0);
		ipc_put_u32(&m, remote);
	}
	ipc_put_str(&m, "");
	wire(&m, out);
	out->fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* A job's mailbox list out of range is refused as a whole. */
static void test_job_boxes(void)
{
	struct ipc_msg m;
	struct queue_job j;
	boxes_msg(&m, 2, 2, 1);
	CHECK(queue_job_get(&m, &j) && j.rcpt[0].nbox == 2 && j.rcpt[0].boxes[1].remote);
	close(j.fd);
	queue_job_done(&j);
	ipc_msg_free(&m);
	boxes_msg(&m, 1, 1, 2);		/* remote is 0 or 1 */
	CHECK(!queue_job_get(&m, &j));
	ipc_msg_free(&m);
	boxes_msg(&m, 3, 2, 0);		/* fewer boxes than counted */
	CHECK(!queue_job_get(&m, &j));
	ipc_msg_free(&m);
	boxes_msg(&m, 1000000, 1, 0);	/* a count the message cannot hold */
	CHECK(!queue_job_get(&m, &j));
	ipc_msg_free(&m);
	boxes_msg(&m, AUTH_MAX_BOXES + 1, AUTH_MAX_BOXES + 1, 0);
	CHECK(!queue_job_get(&m, &j));
	ipc_msg_free(&m);
	boxes_msg(&m, AUTH_MAX_BOXES, AUTH_MAX_BOXES, 0);
	CHECK(queue_job_get(&m, &j) && j.rcpt[0].nbox == AUTH_MAX_BOXES);
	close(j.fd);
	queue_job_done(&j);
	ipc_msg_free(&m);
}

static void job_res_msg(struct ipc_msg *out, uint32_t result, bool trailing)
{
	struct ipc_msg m;
	ipc_msg_init(&m, QUEUE_JOB_RES, 0);
	queue_job_res_put(&m, "65A1B2C3D4E5F601", 2);
	queue_job_res_put_one(&m, &(struct queue_rcpt_result){ 0, QR_DELIVERED, "2.0.0", "ok" });
	queue_job_res_put_one(&m, &(struct queue_rcpt_result){ 3, result, "5.1.1", "no" });
	if (trailing)
		ipc_put_u32(&m, 0);
	wire(&m, out);
}

static void test_job_res(void)
{
	struct ipc_msg m;
	const char *qid;
	uint32_t n;
	job_res_msg(&m, QR_BOUNCE, false);
	struct queue_rcpt_result *r = queue_job_res_get(&m, &qid, &n);
	CHECK(r && n == 2);
	if (r) {
		CHECK_STR(qid, "65A1B2C3D4E5F601");
		CHECK(r[1].idx == 3 && r[1].result == QR_BOUNCE);
		CHECK_STR(r[0].status, "2.0.0");
		CHECK_STR(r[1].text, "no");
	}
	free(r);
	ipc_msg_free(&m);
	job_res_msg(&m, QR_BOUNCE, true);
	CHECK(!queue_job_res_get(&m, &qid, &n));
	ipc_msg_free(&m);
	job_res_msg(&m, QR_BOUNCE + 1, false);
	CHECK(!queue_job_res_get(&m, &qid, &n));
	ipc_msg_free(&m);
}

static void test_small(void)
{
	for (int trailing = 0; trailing < 2; trailing++) {
		struct ipc_msg m, r;
		const char *a, *b;
		ipc_msg_init(&m, QUEUE_ABORT_REQ, 0);
		queue_abort_put(&m, "65A1B2C3D4E5F601");
		if (trailing)
			ipc_put_u32(&m, 0);
		wire(&m, &r);
		CHECK(queue_abort_get(&r, &a) == !trailing);
		ipc_msg_free(&r);

		ipc_msg_init(&m, QUEUE_ADMIN_REQ, 0);
		queue_admin_put(&m, "show", "65A1B2C3D4E5F601");
		if (trailing)
			ipc_put_u32(&m, 0);
		wire(&m, &r);
		CHECK(queue_admin_get(&r, &a, &b) == !trailing);
		if (!trailing) {
			CHECK_STR(a, "show");
			CHECK_STR(b, "65A1B2C3D4E5F601");
		}
		ipc_msg_free(&r);

		unsigned char key[QUEUE_AGENT_KEY_LEN] = { 1, 2, 3 };
		const unsigned char *k;
		uint32_t t;
		ipc_msg_init(&m, QUEUE_AGENT_HELLO, 0);
		queue_hello_put(&m, QT_REMOTE, key);
		if (trailing)
			ipc_put_u32(&m, 0);
		wire(&m, &r);
		CHECK(queue_hello_get(&r, &t, &k) == !trailing);
		CHECK(trailing || (t == QT_REMOTE && !memcmp(k, key, sizeof key)));
		ipc_msg_free(&r);

		char *lines[] = { "one", "two" };
		uint32_t st, n;
		ipc_msg_init(&m, QUEUE_ADMIN_RES, 0);
		queue_admin_res_put(&m, QS_MORE, 2, lines);
		if (trailing)
			ipc_put_str(&m, "three");
		wire(&m, &r);
		const char **got = queue_admin_res_get(&r, &st, &n);
		CHECK((got != NULL) == !trailing);
		if (got) {
			CHECK(st == QS_MORE && n == 2);
			CHECK_STR(got[1], "two");
		}
		free(got);
		ipc_msg_free(&r);

		ipc_msg_init(&m, QUEUE_NEW_REQ, 0);
		if (trailing)
			ipc_put_u32(&m, 0);
		wire(&m, &r);
		CHECK(queue_empty_get(&r) == !trailing);
		ipc_msg_free(&r);
	}
	/* an admin answer that claims more lines than its bytes can hold */
	struct ipc_msg m, r;
	uint32_t st, n;
	ipc_msg_init(&m, QUEUE_ADMIN_RES, 0);
	ipc_put_u32(&m, QS_OK);
	ipc_put_u32(&m, 0xffffffffu);
	wire(&m, &r);
	CHECK(!queue_admin_res_get(&r, &st, &n));
	ipc_msg_free(&r);
}

static void test_replies(void)
{
	for (int trailing = 0; trailing < 2; trailing++) {
		struct ipc_msg m, r;
		ipc_msg_init(&m, QUEUE_COMMIT_RES, 7);
		queue_commit_res_put(&m, QS_OK, "65A1B2C3D4E5F601", "queued");
		if (trailing)
			ipc_put_str(&m, "more");
		wire(&m, &r);
		uint32_t st;
		const char *qid, *text;
		bool ok = queue_commit_res_get(&r, &st, &qid, &text);
		CHECK(ok == !trailing);
		if (ok) {
			CHECK(st == QS_OK);
			CHECK_STR(qid, "65A1B2C3D4E5F601");
			CHECK_STR(text, "queued");
		}
		ipc_msg_free(&r);

		ipc_msg_init(&m, QUEUE_NEW_RES, 1);
		queue_new_res_put(&m, QS_OK, "65A1B2C3D4E5F602", -1);
		if (trailing)
			ipc_put_u32(&m, 1);
		wire(&m, &r);
		r.fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		int fd;
		ok = queue_new_res_get(&r, &st, &qid, &fd);
		CHECK(ok == !trailing);
		CHECK(ok ? fd >= 0 && !strcmp(qid, "65A1B2C3D4E5F602") : fd == -1);
		if (fd >= 0)
			close(fd);
		ipc_msg_free(&r);
	}
}

static void status_res_msg(struct ipc_msg *out, uint32_t st, uint32_t n, uint32_t delivered,
			   bool trailing)
{
	struct ipc_msg m;
	ipc_msg_init(&m, QUEUE_STATUS_RES, 4);
	queue_status_res_put(&m, st, n);
	for (uint32_t i = 0; i < n; i++)
		queue_status_res_put_one(&m, &(struct queue_rcpt_status){
			i ? "b@y.test" : "a@x.test", i ? delivered : QD_YES, i ? "4.4.1" : "2.0.0",
			i ? "no answer" : "delivered" });
	if (trailing)
		ipc_put_u32(&m, 0);
	wire(&m, out);
}

static void test_status(void)
{
	for (int trailing = 0; trailing < 2; trailing++) {
		struct ipc_msg m, r;
		const char *qid, *user;
		ipc_msg_init(&m, QUEUE_STATUS_REQ, 3);
		queue_status_req_put(&m, "65A1B2C3D4E5F601", "u@x.test");
		if (trailing)
			ipc_put_u32(&m, 0);
		wire(&m, &r);
		CHECK(queue_status_req_get(&r, &qid, &user) == !trailing);
		CHECK(trailing || (!strcmp(qid, "65A1B2C3D4E5F601") && !strcmp(user, "u@x.test")));
		ipc_msg_free(&r);
	}
	/* a request needs a queue id and a user */
	static const char *const bad[][2] = { { "65a1b2c3d4e5f601", "u" }, { "65A1B2C3D4E5F6", "u" },
					      { "65A1B2C3D4E5F601", "" } };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct ipc_msg m, r;
		const char *qid, *user;
		ipc_msg_init(&m, QUEUE_STATUS_REQ, 3);
		queue_status_req_put(&m, bad[i][0], bad[i][1]);
		wire(&m, &r);
		CHECK(!queue_status_req_get(&r, &qid, &user));
		ipc_msg_free(&r);
	}
	struct ipc_msg m;
	uint32_t st, n;
	status_res_msg(&m, QS_OK, 2, QD_QUEUED, false);
	struct queue_rcpt_status *r = queue_status_res_get(&m, &st, &n);
	CHECK(r && st == QS_OK && n == 2);
	if (r) {
		CHECK_STR(r[0].addr, "a@x.test");
		CHECK(r[0].delivered == QD_YES && r[1].delivered == QD_QUEUED);
		CHECK_STR(r[1].status, "4.4.1");
		CHECK_STR(r[1].text, "no answer");
	}
	free(r);
	ipc_msg_free(&m);
	status_res_msg(&m, QS_NOTFOUND, 0, QD_QUEUED, false);
	r = queue_status_res_get(&m, &st, &n);
	CHECK(r && st == QS_NOTFOUND && n == 0);
	free(r);
	ipc_msg_free(&m);
	/* refused: bytes after the end, a delivered that is no QD_*, recipients
	 * with a status other than OK, a status the message does not use */
	status_res_msg(&m, QS_OK, 2, QD_NO, true);
	CHECK(!queue_status_res_get(&m, &st, &n));
	ipc_msg_free(&m);
	status_res_msg(&m, QS_OK, 2, QD_UNKNOWN + 1, false);
	CHECK(!queue_status_res_get(&m, &st, &n));
	ipc_msg_free(&m);
	status_res_msg(&m, QS_NOTFOUND, 1, QD_NO, false);
	CHECK(!queue_status_res_get(&m, &st, &n));
	ipc_msg_free(&m);
	status_res_msg(&m, QS_REJECT, 0, QD_NO, false);
	CHECK(!queue_status_res_get(&m, &st, &n));
	ipc_msg_free(&m);
}

int main(void)
{
	test_commit();
	test_replies();
	test_ids_and_prepends();
	test_job();
	test_job_boxes();
	test_job_res();
	test_small();
	test_status();
	return check_summary("queue_codec");
}
