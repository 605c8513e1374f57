/* Unit tests: auth channel replies (malformed ones too), the blocking client
 * and the asynchronous client against a scripted in-process server. */
#include "common/auth_client.h"
#include "common/ipc.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct auth_reply got;
static int ncalls;

static bool parse(struct ipc_msg *m, uint16_t req, struct auth_reply *r)
{
	/* Round-trip through the wire format, as a client would see it. */
	size_t len;
	unsigned char *b = ipc_encode(m, &len);
	struct ipc_msg d;
	CHECK(ipc_decode(b, len, &d) == (long)len);
	free(b);
	bool ok = auth_reply_parse(&d, req, r);
	ipc_msg_free(&d);
	ipc_msg_free(m);
	return ok;
}

static void test_parse(void)
{
	struct ipc_msg m;
	struct auth_reply r;

	ipc_msg_init(&m, AUTH_LOGIN_RES, 1);
	ipc_put_u32(&m, AUTH_OK);
	ipc_put_str(&m, "alice@example.test");
	ipc_put_str(&m, "tok");
	ipc_put_str(&m, "");
	CHECK(parse(&m, AUTH_LOGIN_REQ, &r) && r.result == AUTH_OK && !r.tempfail);
	CHECK_STR(r.user, "alice@example.test");
	CHECK_STR(r.host, "");
	auth_reply_free(&r);

	ipc_msg_init(&m, AUTH_SITE_LOGIN_RES, 1);	/* a login proxied to mb2 */
	ipc_put_u32(&m, AUTH_OK);
	ipc_put_str(&m, "bob@example.test");
	ipc_put_str(&m, "tok");
	ipc_put_str(&m, "mb2");
	CHECK(parse(&m, AUTH_SITE_LOGIN_REQ, &r) && r.result == AUTH_OK && !r.tempfail);
	CHECK_STR(r.host, "mb2");
	auth_reply_free(&r);

	ipc_msg_init(&m, AUTH_LOGIN_RES, 1);	/* missing token */
	ipc_put_u32(&m, AUTH_OK);
	ipc_put_str(&m, "alice@example.test");
	CHECK(!parse(&m, AUTH_LOGIN_REQ, &r) && r.tempfail && r.result == AUTH_TEMPFAIL);
	auth_reply_free(&r);

	ipc_msg_init(&m, AUTH_RCPT_RES, 1);	/* answer to another question */
	ipc_put_u32(&m, RCPT_LOCAL);
	CHECK(!parse(&m, AUTH_LOGIN_REQ, &r) && r.result == AUTH_TEMPFAIL);
	auth_reply_free(&r);

	ipc_msg_init(&m, AUTH_RCPT_RES, 1);	/* a user on another host, and where */
	ipc_put_u32(&m, RCPT_RELAY);
	ipc_put_str(&m, "mb2");
	CHECK(parse(&m, AUTH_RCPT_REQ, &r) && r.result == RCPT_RELAY);
	CHECK_STR(r.host, "mb2");
	auth_reply_free(&r);

	ipc_msg_init(&m, AUTH_RCPT_RES, 1);	/* the host is missing */
	ipc_put_u32(&m, RCPT_RELAY);
	CHECK(!parse(&m, AUTH_RCPT_REQ, &r) && r.result == RCPT_TEMPFAIL);
	auth_reply_free(&r);

	ipc_msg_init(&m, AUTH_RCPT_RES, 1);	/* out-of-range kind */
	ipc_put_u32(&m, 77);
	ipc_put_str(&m, "");
	CHECK(!parse(&m, AUTH_RCPT_REQ, &r) && r.result == RCPT_TEMPFAIL);
	auth_reply_free(&r);

	ipc_msg_init(&m, AUTH_RCPT_RES, 1);	/* trailing field */
	ipc_put_u32(&m, RCPT_LOCAL);
	ipc_put_str(&m, "");
	ipc_put_u32(&m, 0);
	CHECK(!parse(&m, AUTH_RCPT_REQ, &r));
	auth_reply_free(&r);

	ipc_msg_init(&m, AUTH_EXPAND_RES, 1);
	ipc_put_u32(&m, EXPAND_OK);
	ipc_put_u32(&m, 3);
	ipc_put_str(&m, "a@x.test"); ipc_put_str(&m, ""); ipc_put_u64(&m, 5); ipc_put_u32(&m, 0);
	ipc_put_str(&m, "b@x.test"); ipc_put_str(&m, "lists"); ipc_put_u64(&m, 0); ipc_put_u32(&m, 0);
	ipc_put_str(&m, "c@far.test"); ipc_put_str(&m, ""); ipc_put_u64(&m, 0); ipc_put_u32(&m, 1);
	CHECK(parse(&m, AUTH_EXPAND_REQ, &r) && r.n == 3 && r.boxes[0].quota == 5);
	CHECK_STR(r.boxes[1].folder, "lists");
	CHECK(!r.boxes[0].remote && !r.boxes[1].remote && r.boxes[2].remote);
	auth_reply_free(&r);

	ipc_msg_init(&m, AUTH_EXPAND_RES, 1);	/* remote flag out of range */
	ipc_put_u32(&m, EXPAND_OK);
	ipc_put_u32(&m, 1);
	ipc_put_str(&m, "a@x.test"); ipc_put_str(&m, ""); ipc_put_u64(&m, 5); ipc_put_u32(&m, 7);
	CHECK(!parse(&m, AUTH_EXPAND_REQ, &r) && r.result == EXPAND_TEMPFAIL);
	auth_reply_free(&r);

	ipc_msg_init(&m, AUTH_EXPAND_RES, 1);	/* claims more mailboxes than sent */
	ipc_put_u32(&m, EXPAND_OK);
	ipc_put_u32(&m, 3);
	ipc_put_str(&m, "a@x.test"); ipc_put_str(&m, ""); ipc_put_u64(&m, 5); ipc_put_u32(&m, 0);
	CHECK(!parse(&m, AUTH_EXPAND_REQ, &r) && r.result == EXPAND_TEMPFAIL && r.n == 0);
	auth_reply_free(&r);

	ipc_msg_init(&m, AUTH_EXPAND_RES, 1);	/* absurd count */
	ipc_put_u32(&m, EXPAND_OK);
	ipc_put_u32(&m, 0xffffffffu);
	CHECK(!parse(&m, AUTH_EXPAND_REQ, &r));
	auth_reply_free(&r);

	ipc_msg_init(&m, AUTH_ROUTE_RES, 1);	/* RCPT's fields, then EXPAND's */
	ipc_put_u32(&m, RCPT_LOCAL);
	ipc_put_str(&m, "");
	ipc_put_u32(&m, EXPAND_OK);
	ipc_put_u32(&m, 2);
	ipc_put_str(&m, "a@x.test"); ipc_put_str(&m, "lists"); ipc_put_u64(&m, 5); ipc_put_u32(&m, 0);
	ipc_put_str(&m, "c@far.test"); ipc_put_str(&m, ""); ipc_put_u64(&m, 0); ipc_put_u32(&m, 1);
	CHECK(parse(&m, AUTH_ROUTE_REQ, &r) && r.result == RCPT_LOCAL && r.expand == EXPAND_OK);
	CHECK(r.n == 2 && r.boxes[0].quota == 5 && r.boxes[1].remote);
	CHECK_STR(r.boxes[0].folder, "lists");
	auth_reply_free(&r);

	ipc_msg_init(&m, AUTH_ROUTE_RES, 1);	/* the expansion is missing */
	ipc_put_u32(&m, RCPT_LOCAL);
	ipc_put_str(&m, "");
	CHECK(!parse(&m, AUTH_ROUTE_REQ, &r) && r.tempfail && r.result == RCPT_TEMPFAIL &&
	      r.expand == EXPAND_TEMPFAIL && r.n == 0);
	auth_reply_free(&r);

	ipc_msg_init(&m, AUTH_ROUTE_RES, 1);	/* out-of-range expand status */
	ipc_put_u32(&m, RCPT_REMOTE);
	ipc_put_str(&m, "");
	ipc_put_u32(&m, 9);
	ipc_put_u32(&m, 0);
	CHECK(!parse(&m, AUTH_ROUTE_REQ, &r) && r.result == RCPT_TEMPFAIL);
	auth_reply_free(&r);

	ipc_msg_init(&m, AUTH_ROUTE_RES, 1);	/* a mailbox cut short */
	ipc_put_u32(&m, RCPT_LOCAL);
	ipc_put_str(&m, "");
	ipc_put_u32(&m, EXPAND_OK);
	ipc_put_u32(&m, 1);
	ipc_put_str(&m, "a@x.test"); ipc_put_str(&m, "");
	CHECK(!parse(&m, AUTH_ROUTE_REQ, &r) && r.n == 0 && !r.boxes);
	auth_reply_free(&r);

	ipc_msg_init(&m, AUTH_USER_RES, 1);
	ipc_put_u32(&m, 1);
	ipc_put_u64(&m, 1 << 20);
	CHECK(parse(&m, AUTH_USER_REQ, &r) && r.result == 1 && r.quota == 1 << 20);
	auth_reply_free(&r);

	ipc_msg_init(&m, AUTH_SENDER_RES, 1);	/* string where a u32 belongs */
	ipc_put_str(&m, "1");
	CHECK(!parse(&m, AUTH_SENDER_REQ, &r) && r.result == 0 && r.tempfail);
	auth_reply_free(&r);

	ipc_msg_init(&m, AUTH_ADDRESSES_RES, 1);
	ipc_put_u32(&m, 2);
	ipc_put_str(&m, "a@x.test");
	ipc_put_str(&m, "info@x.test");
	CHECK(parse(&m, AUTH_ADDRESSES_REQ, &r) && r.result == 2 && r.naddr == 2 &&
	      !strcmp(r.addrs[1], "info@x.test"));
	auth_reply_free(&r);

	ipc_msg_init(&m, AUTH_ADDRESSES_RES, 1);	/* one address short, then too many, empty */
	ipc_put_u32(&m, 2);
	ipc_put_str(&m, "a@x.test");
	CHECK(!parse(&m, AUTH_ADDRESSES_REQ, &r) && r.tempfail && r.naddr == 0);
	auth_reply_free(&r);
	ipc_msg_init(&m, AUTH_ADDRESSES_RES, 1);
	ipc_put_u32(&m, AUTH_MAX_ADDRESSES + 1);
	CHECK(!parse(&m, AUTH_ADDRESSES_REQ, &r));
	auth_reply_free(&r);
	ipc_msg_init(&m, AUTH_ADDRESSES_RES, 1);
	ipc_put_u32(&m, 1);
	ipc_put_str(&m, "");
	CHECK(!parse(&m, AUTH_ADDRESSES_REQ, &r));
	auth_reply_free(&r);
}

/* The mailbox list as QUEUE_JOB carries it: what is put is what is got, its
 * size is what it takes, and a list longer than the reader's limit is refused. */
static void test_boxes(void)
{
	struct auth_mailbox in[2] = { { "a@x.test", "lists", 7, false }, { "c@far.test", "", 0, true } };
	struct ipc_msg m;
	ipc_msg_init(&m, 1, 0);
	auth_boxes_put(&m, in, 2);
	CHECK(m.hdr.len == auth_boxes_size(in, 2));
	auth_boxes_put(&m, NULL, 0);
	auth_boxes_put(&m, in, 2);
	size_t len;
	unsigned char *wire = ipc_encode(&m, &len);
	ipc_msg_free(&m);
	CHECK(ipc_decode(wire, len, &m) == (long)len);
	free(wire);
	struct auth_mailbox *b;
	size_t n;
	CHECK(auth_boxes_get(&m, 2, &b, &n) && n == 2 && b[0].quota == 7 && b[1].remote);
	CHECK_STR(b[0].folder, "lists");
	CHECK_STR(b[1].mailbox, "c@far.test");
	auth_boxes_free(b, n);
	CHECK(auth_boxes_get(&m, 2, &b, &n) && n == 0);
	auth_boxes_free(b, n);
	CHECK(!auth_boxes_get(&m, 1, &b, &n) && n == 0 && !b && m.bad);
	ipc_msg_free(&m);
}

/* ---- a scripted server ---- */
enum mode { ANSWER, CLOSE, SILENT };
static enum mode mode;
static int srv_fd = -1;
static struct event *srv_ev;
static struct event_base *base;

static void srv_read(evutil_socket_t fd, short what, void *arg)
{
	struct ipc_msg m, res;
	int rc = ipc_recv(fd, &m, 1000);
	if (rc < 0 || mode == CLOSE) {
		if (rc == 0)
			ipc_msg_free(&m);
		event_free(srv_ev);
		close(fd);
		srv_fd = -1;
		return;
	}
	if (mode == ANSWER) {
		ipc_msg_init(&res, AUTH_RCPT_RES, m.hdr.id);
		ipc_put_u32(&res, RCPT_REMOTE);
		ipc_put_str(&res, "");
		ipc_send(fd, &res);
		ipc_msg_free(&res);
	}
	ipc_msg_free(&m);
}

static void srv_accept(evutil_socket_t lfd, short what, void *arg)
{
	int s = accept(lfd, NULL, NULL);
	if (s < 0)
		return;
	srv_fd = s;
	srv_ev = event_new(base, s, EV_READ | EV_PERSIST, srv_read, NULL);
	event_add(srv_ev, NULL);
}

static bool in_call;
static void cb(const struct auth_reply *r, void *arg)
{
	CHECK(!in_call);	/* never called from inside auth_client_call */
	auth_reply_free(&got);
	got.result = r->result;
	got.tempfail = r->tempfail;
	got.type = r->type;
	ncalls++;
	event_base_loopbreak(base);
}

static void run_until_called(int expect)
{
	for (int i = 0; i < 100 && ncalls < expect; i++) {
		struct timeval tv = { 0, 100000 };
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

static void test_async(void)
{
	char *path = xasprintf("%s/auth.sock", check_tmpdir());
	base = event_base_new();

	/* No service: TEMPFAIL from the loop. */
	struct auth_client *c = auth_client_new(base, path, 1000);
	in_call = true;
	auth_client_rcpt(c, "a@x.test", cb, NULL);
	in_call = false;
	CHECK(ncalls == 0);
	run_until_called(1);
	CHECK(ncalls == 1 && got.tempfail && got.result == RCPT_TEMPFAIL);

	int lfd = ipc_listen(path, 0600);
	CHECK(lfd >= 0);
	struct event *lev = event_new(base, lfd, EV_READ | EV_PERSIST, srv_accept, NULL);
	event_add(lev, NULL);

	mode = ANSWER;
	auth_client_rcpt(c, "a@x.test", cb, NULL);
	run_until_called(2);
	CHECK(ncalls == 2 && !got.tempfail && got.result == RCPT_REMOTE);

	/* The service goes away mid-request: TEMPFAIL, then a reconnect works. */
	mode = CLOSE;
	auth_client_rcpt(c, "a@x.test", cb, NULL);
	run_until_called(3);
	CHECK(ncalls == 3 && got.tempfail);
	mode = ANSWER;
	auth_client_rcpt(c, "a@x.test", cb, NULL);
	run_until_called(4);
	CHECK(ncalls == 4 && !got.tempfail && got.result == RCPT_REMOTE);

	/* No answer: TEMPFAIL after the timeout. */
	mode = SILENT;
	auth_client_login(c, "imap", "a@x.test", "pw", "127.0.0.1", cb, NULL);
	run_until_called(5);
	CHECK(ncalls == 5 && got.tempfail && got.result == AUTH_TEMPFAIL);

	/* Cancelled: never called. */
	mode = ANSWER;
	uint32_t id = auth_client_rcpt(c, "a@x.test", cb, NULL);
	auth_client_cancel(c, id);
	for (int i = 0; i < 5; i++) {
		struct timeval tv = { 0, 100000 };
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	CHECK(ncalls == 5);

	/* The blocking client against the same server. */
	struct auth_sync s;
	struct auth_reply r;
	event_free(lev);	/* serve by hand below */
	auth_client_free(c);
	if (srv_fd >= 0) {
		event_free(srv_ev);
		close(srv_fd);
	}
	close(lfd);
	CHECK(auth_sync_open(&s, path, 500) < 0);	/* socket gone? still there but nobody accepts */
	auth_sync_close(&s);
	unlink(path);
	CHECK(auth_sync_open(&s, path, 500) < 0);
	CHECK(auth_sync_rcpt(&s, "a@x.test", &r) < 0 && r.tempfail && r.result == RCPT_TEMPFAIL);
	auth_reply_free(&r);
	auth_sync_close(&s);
	event_base_free(base);
	free(path);
}

int main(void)
{
	test_parse();
	test_boxes();
	test_async();
	auth_reply_free(&got);
	return check_summary("auth_client");
}
