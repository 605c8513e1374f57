/* Unit tests: a user's mail process (httpd/session.c) reads each frame from
 * the front to its end: a frame with bytes after its last field ends the
 * process (as any malformed frame does) instead of being served. */
#include "httpd/chan.h"
#include "httpd/proto.h"
#include "httpd/session.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

struct child {
	pid_t pid;
	int sock;
	bool reaped;
};

static struct child start(void)
{
	int sv[2];
	CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		static struct session_conf sc = { .base_url = "https://mail.example.test" };
		close(sv[0]);
		if (chdir(check_tmpdir()) < 0)
			_exit(2);
		_exit(session_run(sv[1], "u", &sc) == 0 ? 0 : 1);
	}
	close(sv[1]);
	return (struct child){ pid, sv[0], false };
}

/* True if the process ended by itself within ms. */
static bool ended_within(struct child *c, int ms)
{
	for (int waited = 0; waited <= ms && !c->reaped; waited += 20) {
		if (waitpid(c->pid, NULL, WNOHANG) == c->pid)
			c->reaped = true;
		else
			usleep(20 * 1000);
	}
	return c->reaped;
}

static void finish(struct child *c)
{
	close(c->sock);
	if (!ended_within(c, 2000)) {
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
	}
}

static void send_cancel(struct child c, bool trailing)
{
	struct ipc_msg m;
	ipc_msg_init(&m, HTTP_CANCEL, 5);
	if (trailing)
		ipc_put_u32(&m, 0);
	CHECK(ipc_send(c.sock, &m) == 0);
	ipc_msg_free(&m);
}

static void test_cancel(void)
{
	struct child c = start();
	send_cancel(c, false);	/* a stream that is not open: nothing to do */
	CHECK(!ended_within(&c, 300));
	send_cancel(c, true);
	CHECK(ended_within(&c, 2000));
	finish(&c);
}

/* A request whose handler takes no body (here an unknown kind, answered
 * with a problem when well formed) is still checked to its end. */
static void test_request_without_body(void)
{
	struct child c = start();
	struct ipc_msg m;
	ipc_msg_init(&m, HTTP_REQ, 6);
	ipc_put_u32(&m, 99);
	ipc_put_str(&m, "");
	ipc_put_str(&m, "");
	chan_put_body(&m, "", 0);
	CHECK(ipc_send(c.sock, &m) == 0);
	struct ipc_msg r;
	CHECK(ipc_recv(c.sock, &r, 2000) == 0 && r.hdr.type == HTTP_RES && ipc_get_u32(&r) == 400);
	ipc_msg_free(&r);
	ipc_put_u32(&m, 0);	/* the same request with a field after the body */
	CHECK(ipc_send(c.sock, &m) == 0);
	ipc_msg_free(&m);
	CHECK(ended_within(&c, 2000));
	finish(&c);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_cancel();
	test_request_without_body();
	return check_summary("httpd_session");
}
