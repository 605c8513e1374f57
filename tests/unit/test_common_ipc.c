/* Unit tests: IPC framing, typed fields, fd passing, malformed input. */
#include "common/ipc.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static void test_roundtrip(void)
{
	struct ipc_msg m, r;
	ipc_msg_init(&m, 7, 99);
	ipc_put_u32(&m, 0xdeadbeef);
	ipc_put_str(&m, "hello");
	ipc_put_u64(&m, 1ull << 40);
	ipc_put_str(&m, "");
	ipc_put_bytes(&m, "a\0b", 3);
	size_t n;
	unsigned char *b = ipc_encode(&m, &n);
	CHECK(ipc_decode(b, n - 1, &r) == 0);	/* incomplete */
	CHECK(ipc_decode(b, n, &r) == (long)n);
	CHECK(r.hdr.type == 7 && r.hdr.id == 99);
	CHECK(ipc_get_u32(&r) == 0xdeadbeef);
	CHECK_STR(ipc_get_str(&r, 100), "hello");
	CHECK(ipc_get_u64(&r) == 1ull << 40);
	CHECK_STR(ipc_get_str(&r, 100), "");
	size_t bl;
	const char *bp = ipc_get_bytes(&r, &bl, 10);
	CHECK(bp && bl == 3 && bp[1] == '\0');
	CHECK(ipc_end(&r));
	ipc_msg_free(&r);

	/* Reading the wrong type, too long a string, or past the end marks it bad. */
	CHECK(ipc_decode(b, n, &r) > 0);
	CHECK(ipc_get_str(&r, 100) == NULL && r.bad);
	CHECK(!ipc_end(&r));
	ipc_msg_free(&r);
	CHECK(ipc_decode(b, n, &r) > 0);
	ipc_get_u32(&r);
	CHECK(ipc_get_str(&r, 3) == NULL && r.bad);
	ipc_msg_free(&r);
	free(b);
	ipc_msg_free(&m);
}

static void test_malformed(void)
{
	struct ipc_msg r;
	unsigned char hdr[IPC_HDR_LEN] = { 0x7f, 0xff, 0xff, 0xff, 0, 1, IPC_VERSION, 0, 0, 0, 0, 1 };
	CHECK(ipc_decode(hdr, sizeof hdr, &r) == -1);	/* oversized */
	unsigned char v[IPC_HDR_LEN] = { 0, 0, 0, 0, 0, 1, 99, 0, 0, 0, 0, 1 };
	CHECK(ipc_decode(v, sizeof v, &r) == -1);	/* wrong version */
	/* A field whose length runs past the payload. */
	unsigned char f[IPC_HDR_LEN + 6] = { 0, 0, 0, 6, 0, 1, IPC_VERSION, 0, 0, 0, 0, 1,
					     3, 0, 0, 0, 50, 'x' };
	CHECK(ipc_decode(f, sizeof f, &r) > 0);
	CHECK(ipc_get_str(&r, 1000) == NULL && r.bad);
	ipc_msg_free(&r);
	/* A string containing NUL is refused. */
	unsigned char z[IPC_HDR_LEN + 7] = { 0, 0, 0, 7, 0, 1, IPC_VERSION, 0, 0, 0, 0, 1,
					     3, 0, 0, 0, 2, 'a', 0 };
	CHECK(ipc_decode(z, sizeof z, &r) > 0);
	CHECK(ipc_get_str(&r, 1000) == NULL);
	ipc_msg_free(&r);
}

static void test_conn_fd_passing(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct ipc_conn a, b;
	ipc_conn_init(&a, sv[0]);
	ipc_conn_init(&b, sv[1]);
	for (int i = 0; i < 3; i++) {
		struct ipc_msg m;
		ipc_msg_init(&m, 1, (uint32_t)i);
		ipc_put_str(&m, "x");
		if (i != 1)
			ipc_put_fd(&m, open("/dev/null", O_RDONLY));
		ipc_conn_queue(&a, &m);
		ipc_msg_free(&m);
	}
	CHECK(ipc_conn_flush(&a) == 1);
	CHECK(ipc_conn_read(&b) == 0);
	int got = 0, withfd = 0;
	struct ipc_msg r;
	while (ipc_conn_next(&b, &r) == 1) {
		CHECK(r.hdr.id == (uint32_t)got);
		if (r.fd >= 0)
			withfd++;
		CHECK((r.fd >= 0) == (got != 1));
		ipc_msg_free(&r);
		got++;
	}
	CHECK(got == 3 && withfd == 2);

	/* Blocking helpers. */
	struct ipc_msg m;
	ipc_msg_init(&m, 5, 1);
	ipc_put_str(&m, "blocking");
	ipc_put_fd(&m, open("/dev/null", O_RDONLY));
	CHECK(ipc_send(sv[0], &m) == 0);
	ipc_msg_free(&m);
	CHECK(ipc_recv(sv[1], &r, 1000) == 0);
	CHECK_STR(ipc_get_str(&r, 100), "blocking");
	CHECK(r.fd >= 0);
	ipc_msg_free(&r);
	CHECK(ipc_recv(sv[1], &r, 50) == -1);	/* timeout */

	/* A frame claiming an fd that never came is malformed. */
	unsigned char lie[IPC_HDR_LEN] = { 0, 0, 0, 0, 0, 1, IPC_VERSION, IPC_F_FD, 0, 0, 0, 1 };
	CHECK(write(sv[0], lie, sizeof lie) == (ssize_t)sizeof lie);
	usleep(10000);
	ipc_conn_read(&b);
	CHECK(ipc_conn_next(&b, &r) == -1);
	ipc_conn_close(&a);
	ipc_conn_close(&b);
}

/* Many fd-carrying messages sent at once (queued answering 50 QUEUE_NEW, or
 * pushing jobs) are all received: the reader never holds more fds than it can. */
static void test_many_fds(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	fd_nonblock(sv[0]);
	fd_nonblock(sv[1]);
	struct ipc_conn a, b;
	ipc_conn_init(&a, sv[0]);
	ipc_conn_init(&b, sv[1]);
	for (uint32_t i = 0; i < 60; i++) {
		struct ipc_msg m;
		ipc_msg_init(&m, 7, i);
		ipc_put_u32(&m, i);
		ipc_put_fd(&m, open("/dev/null", O_RDONLY));
		ipc_conn_queue(&a, &m);
		ipc_msg_free(&m);
	}
	CHECK(ipc_conn_flush(&a) == 1);
	int got = 0, bad = 0;
	for (int round = 0; round < 100 && got < 60 && !bad; round++) {
		CHECK(ipc_conn_read(&b) == 0);
		struct ipc_msg r;
		int k;
		while ((k = ipc_conn_next(&b, &r)) == 1) {
			bad |= r.fd < 0 || ipc_get_u32(&r) != (uint32_t)got;
			got++;
			ipc_msg_free(&r);
		}
		bad |= k < 0;
	}
	CHECK(got == 60 && !bad);
	ipc_conn_close(&a);
	ipc_conn_close(&b);
}

/* A peer that does not read: the bounded send gives up (ETIMEDOUT) within
 * its bound instead of waiting as long as the peer likes. */
static void test_send_within_a_peer_that_does_not_read(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	int sz = 4096;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	static char big[64 * 1024];
	struct ipc_msg m;
	ipc_msg_init(&m, 5, 0);
	ipc_put_bytes(&m, big, sizeof big);
	uint64_t t0 = now_ms();
	CHECK(ipc_send_within(sv[0], &m, 100) == -1 && errno == ETIMEDOUT);
	uint64_t took = now_ms() - t0;
	CHECK(took >= 100 && took < 5000);
	ipc_msg_free(&m);
	/* and one that does read gets the whole message */
	ipc_msg_init(&m, 6, 0);
	ipc_put_u32(&m, 42);
	close(sv[0]);
	close(sv[1]);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(ipc_send_within(sv[0], &m, 100) == 0);
	ipc_msg_free(&m);
	struct ipc_msg r;
	CHECK(ipc_recv(sv[1], &r, 1000) == 0 && r.hdr.type == 6 && ipc_get_u32(&r) == 42);
	ipc_msg_free(&r);
	close(sv[0]);
	close(sv[1]);
}

/* Blocks free_wipe released, and how many of them still held a byte. */
static size_t wiped_blocks, dirty_blocks;

static void observe(const void *p, size_t n)
{
	wiped_blocks++;
	for (size_t i = 0; i < n; i++)
		if (((const unsigned char *)p)[i]) {
			dirty_blocks++;
			break;
		}
}

/* A sensitive message (a LOGIN request) wipes the block it outgrows, the
 * encoded copy a queue makes, and itself; the connection's output buffer
 * turns sensitive with it, and a sensitive connection's decoded messages
 * are sensitive. */
static void test_sensitive(void)
{
	free_wipe_observer = observe;
	struct ipc_msg m, r;
	ipc_msg_init(&m, 9, 1);
	m.sensitive = true;
	ipc_put_str(&m, "imap");
	ipc_put_str(&m, "secret-password");
	size_t before = wiped_blocks;
	char big[300];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ipc_put_str(&m, big);	/* outgrows the block holding the password */
	CHECK(wiped_blocks == before + 1);
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct ipc_conn a, b;
	ipc_conn_init(&a, sv[0]);
	ipc_conn_init(&b, sv[1]);
	ipc_conn_sensitive(&b);
	before = wiped_blocks;
	ipc_conn_queue(&a, &m);
	CHECK(a.out.sensitive && wiped_blocks == before + 1);	/* the encoded copy */
	ipc_msg_free(&m);
	CHECK(wiped_blocks == before + 2);
	CHECK(ipc_conn_flush(&a) == 1);
	CHECK(ipc_conn_read(&b) == 0 && ipc_conn_next(&b, &r) == 1 && r.sensitive);
	CHECK_STR(ipc_get_str(&r, 100), "imap");
	CHECK_STR(ipc_get_str(&r, 100), "secret-password");
	ipc_msg_free(&r);
	CHECK(wiped_blocks == before + 3);
	ipc_conn_close(&a);
	ipc_conn_close(&b);
	CHECK(wiped_blocks == before + 5);	/* both connection buffers */
	CHECK(dirty_blocks == 0);
	/* Ordinary messages on ordinary connections are not wiped. */
	before = wiped_blocks;
	ipc_msg_init(&m, 9, 1);
	ipc_put_str(&m, big);
	ipc_put_str(&m, big);
	ipc_msg_free(&m);
	CHECK(wiped_blocks == before);
	free_wipe_observer = NULL;
}

int main(void)
{
	test_sensitive();
	test_roundtrip();
	test_malformed();
	test_conn_fd_passing();
	test_many_fds();
	test_send_within_a_peer_that_does_not_read();
	return check_summary("ipc");
}
