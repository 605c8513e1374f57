/* Unit tests: the httpd channel's body field (httpd/chan.c), inline and as a
 * memfd, is the last field of its frame: a reader refuses anything after it. */
#include "httpd/chan.h"
#include "httpd/proto.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define BIG (CHAN_INLINE_MAX + 100)

/* A frame as the peer sends it: a u32, the body, then extra fields. */
static void frame(struct ipc_msg *out, const char *body, size_t len, int extra)
{
	struct ipc_msg m;
	ipc_msg_init(&m, 1, 7);
	ipc_put_u32(&m, 200);
	CHECK(chan_put_body(&m, body, len) == 0);
	if (extra & 1)
		ipc_put_u32(&m, 1);
	if (extra & 2)
		ipc_put_fd(&m, memfd_create("stray", MFD_CLOEXEC));
	size_t n;
	unsigned char *b = ipc_encode(&m, &n);
	CHECK(ipc_decode(b, n, out) == (long)n);
	out->fd = ipc_take_fd(&m);	/* the fd travels beside the bytes */
	free(b);
	ipc_msg_free(&m);
	CHECK(ipc_get_u32(out) == 200);
}

static bool read_ref(struct ipc_msg *m, size_t *len)
{
	const void *inl;
	int fd;
	bool ok = chan_get_body_ref(m, UINT64_MAX, len, &inl, &fd);
	CHECK(ok || fd < 0);	/* a refused frame leaves no fd to the caller */
	if (fd >= 0)
		close(fd);
	ipc_msg_free(m);
	return ok;
}

static void test_ref_refuses_trailing(void)
{
	char *big = xmalloc(BIG);
	memset(big, 'x', BIG);
	struct ipc_msg m;
	size_t len = 0;
	frame(&m, "hello", 5, 0);
	CHECK(read_ref(&m, &len) && len == 5);
	frame(&m, "hello", 5, 1);
	CHECK(!read_ref(&m, &len));
	frame(&m, "hello", 5, 2);	/* an fd beside an inline body */
	CHECK(!read_ref(&m, &len));
	frame(&m, big, BIG, 0);
	CHECK(read_ref(&m, &len) && len == BIG);
	frame(&m, big, BIG, 1);
	CHECK(!read_ref(&m, &len));
	free(big);
}

static void test_copy_refuses_trailing(void)
{
	struct ipc_msg m;
	size_t len;
	frame(&m, "{}", 2, 0);
	char *b = chan_get_body(&m, 100, &len);
	CHECK(b && len == 2 && !strcmp(b, "{}"));
	free(b);
	ipc_msg_free(&m);
	frame(&m, "{}", 2, 1);
	CHECK(chan_get_body(&m, 100, &len) == NULL);
	ipc_msg_free(&m);
	frame(&m, "{}", 2, 0);
	CHECK(chan_get_body(&m, 1, &len) == NULL);	/* too long */
	ipc_msg_free(&m);
}

int main(void)
{
	test_ref_refuses_trailing();
	test_copy_refuses_trailing();
	return check_summary("httpd_chan");
}
