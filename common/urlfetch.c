/* urlfetch.c — the client side of the URLAUTH fetch channel (urlfetch.h). */
#include "common/ipc.h"
#include "common/urlfetch.h"
#include "common/util.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void urlfetch_request(struct ipc_msg *m, const char *url, unsigned flags, const char *submit_user)
{
	ipc_msg_init(m, URLFETCH_REQ, 1);
	ipc_put_str(m, url);
	ipc_put_u32(m, flags);
	ipc_put_str(m, submit_user ? submit_user : "");
}

int urlfetch_parse(struct ipc_msg *m, struct urlfetch_reply *r)
{
	memset(r, 0, sizeof *r);
	r->fd = -1;
	uint32_t ok = ipc_get_u32(m);
	r->size = ipc_get_u64(m);
	r->nul = ipc_get_u32(m) != 0;
	const char *bps = ipc_get_str(m, URLFETCH_BPS_MAX);
	if (m->hdr.type != URLFETCH_RES || !ipc_end(m))
		return -1;
	r->fd = ipc_take_fd(m);
	r->ok = ok && r->fd >= 0;
	r->bps = bps && *bps ? xstrdup(bps) : NULL;
	return 0;
}

/* One request and its reply on sock, which this closes. */
static int ask_on(int sock, const char *url, unsigned flags, const char *submit_user,
		  struct urlfetch_reply *r)
{
	struct ipc_msg req, res;
	urlfetch_request(&req, url, flags, submit_user);
	int rc = ipc_send(sock, &req);
	ipc_msg_free(&req);
	if (rc == 0)
		rc = ipc_recv(sock, &res, URLFETCH_TIMEOUT_MS);
	close(sock);
	if (rc < 0)
		return -1;
	rc = urlfetch_parse(&res, r);
	ipc_msg_free(&res);
	return rc;
}

int urlfetch_ask(const char *path, const char *url, unsigned flags, const char *submit_user,
		 struct urlfetch_reply *r)
{
	memset(r, 0, sizeof *r);
	r->fd = -1;
	int sock = ipc_connect(path);
	return sock < 0 ? -1 : ask_on(sock, url, flags, submit_user, r);
}

int urlfetch_ask_via(int chan, const char *url, unsigned flags, struct urlfetch_reply *r)
{
	memset(r, 0, sizeof *r);
	r->fd = -1;
	int sv[2];
	if (chan < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	struct ipc_msg m;
	ipc_msg_init(&m, URLFETCH_CHAN, 1);
	ipc_put_fd(&m, sv[1]);	/* the server's end of this request */
	int rc = ipc_send(chan, &m);
	ipc_msg_free(&m);
	if (rc < 0) {
		close(sv[0]);
		return -1;
	}
	return ask_on(sv[0], url, flags, "", r);
}

int urlfetch_read(struct urlfetch_reply *r, int (*sink)(void *arg, const char *p, size_t n), void *arg)
{
	char buf[16384];
	uint64_t left = r->size;
	while (left > 0) {
		struct pollfd p = { r->fd, POLLIN, 0 };
		if (poll(&p, 1, URLFETCH_TIMEOUT_MS) <= 0)
			return -1;
		ssize_t n = read(r->fd, buf, left < sizeof buf ? (size_t)left : sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || sink(arg, buf, (size_t)n))
			return -1;
		left -= (uint64_t)n;
	}
	return 0;
}

void urlfetch_reply_free(struct urlfetch_reply *r)
{
	if (r->fd >= 0)
		close(r->fd);
	free(r->bps);
	memset(r, 0, sizeof *r);
	r->fd = -1;
}
