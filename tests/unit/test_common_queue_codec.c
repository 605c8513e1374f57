/* The queue channel's commit and new-file messages (queue_codec.h): what is
 * encoded decodes the same, and a message with bytes after its last field is
 * refused. */
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
	queue_commit_put(&big, &(struct queue_commit){ .qid = "1", .sender = "", .envid = "",
		.client = "", .authuser = "", .nrcpt = QUEUE_MAX_RCPTS + 1 });
	wire(&big, &r);
	struct queue_commit c;
	CHECK(!queue_commit_get(&r, &c));
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
		ipc_put_u32(&m, QS_OK);
		ipc_put_str(&m, "65A1B2C3D4E5F602");
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

int main(void)
{
	test_commit();
	test_replies();
	return check_summary("queue_codec");
}
