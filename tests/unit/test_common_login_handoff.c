/* The login -> mail hand-off (login_handoff.h): what each daemon encodes
 * decodes the same; every field at its limit passes, one byte over it, an
 * unknown flag bit, a missing fd, another type or a byte after the last
 * field is refused. */
#include "common/login_handoff.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TYPE 300

/* m as the receiver sees it (encoded, then decoded; the fd passed along as
 * SCM_RIGHTS would); m is freed. */
static void wire(struct ipc_msg *m, struct ipc_msg *out)
{
	size_t n;
	unsigned char *b = ipc_encode(m, &n);
	CHECK(ipc_decode(b, n, out) == (long)n);
	out->fd = m->fd;
	m->fd = -1;
	free(b);
	ipc_msg_free(m);
}

static int devnull(void)
{
	return open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* Encode h (with a fresh fd) and decode it as the mail role would. */
static bool round_trip(struct login_handoff h, struct ipc_msg *out, struct login_handoff *got)
{
	struct ipc_msg m;
	ipc_msg_init(&m, TYPE, 1);
	h.fd = devnull();
	login_handoff_put(&m, &h);
	wire(&m, out);
	return login_handoff_get(out, TYPE, "test", got);
}

static void done(struct ipc_msg *m, struct login_handoff *h)
{
	if (h->fd >= 0)
		close(h->fd);
	ipc_msg_free(m);
}

static void test_round_trips(void)
{
	struct ipc_msg m;
	struct login_handoff h;
	/* imapd: a tag, TLS, pipelined input */
	CHECK(round_trip((struct login_handoff){ .user = "alice@example.test", .token = "ab.12",
		.tag = "a1", .ip = "2001:db8::1", .flags = LOGIN_HF_TLS, .pending = "b NOOP\r\n",
		.npending = 8 }, &m, &h));
	CHECK_STR(h.user, "alice@example.test");
	CHECK_STR(h.token, "ab.12");
	CHECK_STR(h.tag, "a1");
	CHECK_STR(h.ip, "2001:db8::1");
	CHECK(h.flags == LOGIN_HF_TLS && h.fd >= 0);
	CHECK(h.npending == 8 && h.pending && !memcmp(h.pending, "b NOOP\r\n", 8));
	done(&m, &h);
	/* pop3d and httpd: no tag, nothing pending */
	CHECK(round_trip((struct login_handoff){ .user = "bob@example.test", .token = "cd.34",
		.ip = "192.0.2.1" }, &m, &h));
	CHECK_STR(h.tag, "");
	CHECK(h.flags == 0 && h.npending == 0 && h.fd >= 0);
	done(&m, &h);
}

static char *filled(size_t n, char c)
{
	char *s = xmalloc(n + 1);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* One hand-off with each field n bytes long plus extra: true if accepted. */
static bool sized(size_t extra_user, size_t extra_token, size_t extra_tag, size_t extra_ip,
		  size_t extra_pending)
{
	char *user = filled(LOGIN_HANDOFF_USER_MAX + extra_user, 'u');
	char *token = filled(LOGIN_HANDOFF_TOKEN_MAX + extra_token, 't');
	char *tag = filled(LOGIN_HANDOFF_TAG_MAX + extra_tag, 'g');
	char *ip = filled(LOGIN_HANDOFF_IP_MAX + extra_ip, '1');
	char *pend = filled(LOGIN_HANDOFF_PENDING_MAX + extra_pending, 'p');
	struct ipc_msg m;
	struct login_handoff h;
	bool ok = round_trip((struct login_handoff){ .user = user, .token = token, .tag = tag,
		.ip = ip, .pending = pend, .npending = LOGIN_HANDOFF_PENDING_MAX + extra_pending },
		&m, &h);
	CHECK(h.fd >= 0);	/* the caller's to close either way */
	done(&m, &h);
	free(user);
	free(token);
	free(tag);
	free(ip);
	free(pend);
	return ok;
}

static void test_limits(void)
{
	CHECK(sized(0, 0, 0, 0, 0));
	CHECK(!sized(1, 0, 0, 0, 0));
	CHECK(!sized(0, 1, 0, 0, 0));
	CHECK(!sized(0, 0, 1, 0, 0));
	CHECK(!sized(0, 0, 0, 1, 0));
	CHECK(!sized(0, 0, 0, 0, 1));
}

/* A hand-off built field by field, so that it can be wrong. */
static bool raw(uint16_t type, uint32_t flags, bool with_fd, bool trailing, bool short_one)
{
	struct ipc_msg m, r;
	ipc_msg_init(&m, type, 1);
	ipc_put_str(&m, "alice@example.test");
	ipc_put_str(&m, "ab.12");
	ipc_put_str(&m, "");
	ipc_put_str(&m, "192.0.2.1");
	ipc_put_u32(&m, flags);
	if (!short_one)
		ipc_put_bytes(&m, "", 0);
	if (trailing)
		ipc_put_u32(&m, 0);
	if (with_fd)
		ipc_put_fd(&m, devnull());
	wire(&m, &r);
	struct login_handoff h;
	bool ok = login_handoff_get(&r, TYPE, "test", &h);
	CHECK((h.fd >= 0) == with_fd);
	done(&r, &h);
	return ok;
}

static void test_refusals(void)
{
	CHECK(raw(TYPE, LOGIN_HF_TLS, true, false, false));
	CHECK(!raw(TYPE, 2, true, false, false));		/* an unknown flag bit */
	CHECK(!raw(TYPE, 0x80000000u | LOGIN_HF_TLS, true, false, false));
	CHECK(!raw(TYPE, 0, false, false, false));		/* no connection */
	CHECK(!raw(TYPE, 0, true, true, false));		/* a trailing field */
	CHECK(!raw(TYPE, 0, true, false, true));		/* pending missing */
	CHECK(!raw(TYPE + 1, 0, true, false, false));		/* another message */
}

int main(void)
{
	test_round_trips();
	test_limits();
	test_refusals();
	return check_summary("login_handoff");
}
