/* Unit tests: queue index records, spool-file trailers, and the index itself. */
#include "queued/qindex.h"
#include "queued/qrec.h"
#include "common/queue_proto.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <stdlib.h>
#include <string.h>

static void sample(struct qmsg *m)
{
	memset(m, 0, sizeof *m);
	strcpy(m->id, "65A1B2C3D4E5F607");
	m->sender = xstrdup("bob@example.test");
	m->flags = QF_8BITMIME | QF_AUTH;
	m->envid = xstrdup("env-1");
	m->ret = 2;
	m->arrival = 1700000000;
	m->size = 1234;
	m->client = xstrdup("mx.example [192.0.2.1]");
	m->authuser = xstrdup("bob@example.test");
	m->held = 1;
	struct qrcpt *r = qmsg_add_rcpt(m, "alice@example.test", "rfc822;Alice@example.test",
					DSN_NOTIFY_FAILURE | DSN_NOTIFY_DELAY);
	r->state = RS_DEFERRED;
	r->attempts = 3;
	r->next_attempt = 1700000600;
	free(r->status);
	r->status = xstrdup("4.2.2");
	free(r->reason);
	r->reason = xstrdup("mailbox full");
	qmsg_add_rcpt(m, "carol@example.test", "", 0)->state = RS_DELIVERED;
}

static void test_roundtrip(void)
{
	struct qmsg a, b;
	sample(&a);
	size_t n;
	a.prepend = xstrdup("Authentication-Results: mx.test;\r\n\tspf=pass\r\n");
	unsigned char *buf = qrec_encode(&a, &n);
	CHECK(qrec_decode(buf, n, &b) == 0);
	CHECK_STR(b.prepend, "Authentication-Results: mx.test;\r\n\tspf=pass\r\n");
	CHECK_STR(b.id, a.id);
	CHECK_STR(b.sender, "bob@example.test");
	CHECK(b.flags == (QF_8BITMIME | QF_AUTH));
	CHECK_STR(b.envid, "env-1");
	CHECK(b.ret == 2 && b.arrival == 1700000000 && b.size == 1234 && b.held == 1);
	CHECK(b.nrcpt == 2);
	CHECK_STR(b.rcpt[0].orcpt, "rfc822;Alice@example.test");
	CHECK(b.rcpt[0].state == RS_DEFERRED && b.rcpt[0].attempts == 3);
	CHECK(b.rcpt[0].next_attempt == 1700000600);
	CHECK_STR(b.rcpt[0].status, "4.2.2");
	CHECK_STR(b.rcpt[0].reason, "mailbox full");
	CHECK(b.rcpt[1].state == RS_DELIVERED);
	CHECK(!qmsg_done(&b));
	b.rcpt[0].state = RS_BOUNCED;
	CHECK(qmsg_done(&b));

	/* Every truncation is refused, never misread. */
	int refused = 0;
	for (size_t cut = 0; cut < n; cut++) {
		struct qmsg c;
		if (qrec_decode(buf, cut, &c) < 0)
			refused++;
		else
			qmsg_free(&c);
	}
	CHECK(refused == (int)n);
	/* A flipped state byte out of range is refused. */
	buf[0] ^= 0xff;
	struct qmsg c;
	CHECK(qrec_decode(buf, n, &c) < 0);
	free(buf);
	qmsg_free(&a);
	qmsg_free(&b);
}

static void test_trailer(void)
{
	struct qmsg a, b;
	sample(&a);
	const char *body = "Subject: x\r\n\r\nhello\r\n";
	a.size = strlen(body);
	size_t tl;
	unsigned char *t = qtrailer_make(&a, &tl);
	size_t flen = a.size + tl;
	unsigned char *file = xmalloc(flen);
	memcpy(file, body, a.size);
	memcpy(file + a.size, t, tl);
	CHECK(qtrailer_parse(file, flen, flen, &b) == 0);
	CHECK(b.size == strlen(body));
	CHECK_STR(b.rcpt[0].addr, "alice@example.test");
	qmsg_free(&b);
	/* Only the tail of a large file is read: enough if it covers the trailer. */
	CHECK(qtrailer_parse(file + 5, flen - 5, flen, &b) == 0);
	qmsg_free(&b);
	/* Truncated (a crash while appending) or wrong size: refused. */
	CHECK(qtrailer_parse(file, flen - 1, flen - 1, &b) < 0);
	CHECK(qtrailer_parse(file, flen, flen + 1, &b) < 0);
	CHECK(qtrailer_parse((const unsigned char *)body, a.size, a.size, &b) < 0);
	free(file);
	free(t);
	qmsg_free(&a);
}

static int seen;
static void count(struct qmsg *m, void *arg)
{
	seen++;
	qmsg_free(m);
}
static void bad(const char *id, void *arg)
{
}

static void test_index(void)
{
	char *dir = xasprintf("%s/db", check_tmpdir());
	CHECK(qindex_open(dir) == 0);
	struct qmsg a;
	sample(&a);
	CHECK(qindex_put(&a) == 0);
	strcpy(a.id, "65A1B2C3D4E5F608");
	CHECK(qindex_put(&a) == 0);
	CHECK(qindex_flush() == 0);
	CHECK(qindex_del("65A1B2C3D4E5F607") == 0);
	CHECK(qindex_del("65A1B2C3D4E5F607") == 0);	/* absent: not an error */
	qindex_checkpoint();
	qindex_close();
	/* Reopen (recovery runs): the committed state is there. */
	CHECK(qindex_open(dir) == 0);
	seen = 0;
	CHECK(qindex_each(count, bad, NULL) == 0);
	CHECK(seen == 1);
	qindex_close();
	qmsg_free(&a);
	free(dir);
}

int main(void)
{
	test_roundtrip();
	test_trailer();
	test_index();
	return check_summary("queued_qrec");
}
