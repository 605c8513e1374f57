/* agent.c — queue connection shared by the delivery agents. */
#include "deliverd/agent.h"
#include "common/daemon.h"
#include "common/log.h"
#include "common/queue_codec.h"
#include "common/queue_proto.h"
#include "common/util.h"

#include <event2/event.h>
#include <stdlib.h>

struct agent {
	struct event_base *base;
	char *sock, *name;
	uint32_t transport;
	const unsigned char *key;	/* the run's agent key (common/daemon.h) */
	agent_job_fn fn;
	void *arg;
	struct ipc_conn conn;
	bool connected;
	uint64_t gen;
	struct event *ev_rd, *ev_wr, *ev_retry;
	unsigned inflight;	/* jobs taken and not answered yet */
	bool draining;
	void (*drained)(void *);
	void *drained_arg;
};

static void check_drained(struct agent *a, bool written)
{
	if (a->draining && a->inflight == 0 && (written || !a->connected) && a->drained) {
		void (*fn)(void *) = a->drained;
		a->drained = NULL;
		log_info("%s delivery agent drained", a->name);
		fn(a->drained_arg);
	}
}

static void flush(struct agent *a)
{
	if (ipc_conn_flush(&a->conn) == 0)
		event_add(a->ev_wr, NULL);
	else
		check_drained(a, true);
}

static void retry_later(struct agent *a)
{
	struct timeval tv = { 1, 0 };
	evtimer_add(a->ev_retry, &tv);
}

static void disconnect(struct agent *a, const char *why)
{
	log_warn("queue connection lost: %s%s", why, a->draining ? "" : "; reconnecting");
	event_free(a->ev_rd);
	event_free(a->ev_wr);
	ipc_conn_close(&a->conn);
	a->connected = false;
	if (!a->draining)
		retry_later(a);
	check_drained(a, false);	/* replies for this connection would be dropped */
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	if (ipc_conn_read(&a->conn) < 0) {
		disconnect(a, "read error");
		return;
	}
	struct ipc_msg m;
	int r;
	while ((r = ipc_conn_next(&a->conn, &m)) == 1) {
		bool ok = m.hdr.type == QUEUE_JOB && a->fn(&m, a->gen, a->arg);
		a->inflight += ok;
		ipc_msg_free(&m);
		if (!ok) {
			disconnect(a, "malformed message from queued");
			return;
		}
	}
	if (r < 0)
		disconnect(a, "malformed message from queued");
	else if (a->conn.eof)
		disconnect(a, "queued closed the connection");
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
	flush(arg);
}

static void on_connect(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	int s = ipc_connect(a->sock);
	if (s < 0) {
		retry_later(a);
		return;
	}
	fd_nonblock(s);
	ipc_conn_init(&a->conn, s);
	a->gen++;
	a->connected = true;
	a->ev_rd = event_new(a->base, s, EV_READ | EV_PERSIST, on_read, a);
	a->ev_wr = event_new(a->base, s, EV_WRITE, on_write, a);
	event_add(a->ev_rd, NULL);
	struct ipc_msg m;
	ipc_msg_init(&m, QUEUE_AGENT_HELLO, 0);
	queue_hello_put(&m, a->transport, a->key);
	ipc_conn_queue(&a->conn, &m);
	ipc_msg_free(&m);
	flush(a);
	log_info("connected to queued as the %s delivery agent", a->name);
}

struct agent *agent_new(struct event_base *base, const char *queue_sock, uint32_t transport,
			const char *name, agent_job_fn fn, void *arg)
{
	struct agent *a = xcalloc(1, sizeof *a);
	a->key = daemon_agent_key();
	if (!a->key)
		fatal("no agent key (TERN_AGENT_KEY_FD): queued takes delivery agents started "
		      "by the master only (`mailctl start`)");
	a->base = base;
	a->sock = xstrdup(queue_sock);
	a->name = xstrdup(name);
	a->transport = transport;
	a->fn = fn;
	a->arg = arg;
	a->ev_retry = evtimer_new(base, on_connect, a);
	on_connect(-1, 0, a);
	return a;
}

void agent_result_begin(struct ipc_msg *m, const char *qid, uint32_t n)
{
	ipc_msg_init(m, QUEUE_JOB_RES, 0);
	queue_job_res_put(m, qid, n);
}

void agent_result_add(struct ipc_msg *m, uint32_t idx, int result, const char *status,
		      const char *text)
{
	queue_job_res_put_one(m, &(struct queue_rcpt_result){ .idx = idx, .result = (uint32_t)result,
		.status = status, .text = text });
}

void agent_reply(struct agent *a, uint64_t gen, struct ipc_msg *m)
{
	if (a->inflight)
		a->inflight--;
	if (a->connected && gen == a->gen) {
		ipc_conn_queue(&a->conn, m);
		flush(a);
	} else {
		check_drained(a, false);
	}
	ipc_msg_free(m);
}

void agent_send(struct agent *a, uint64_t gen, struct ipc_msg *m)
{
	if (a->connected && gen == a->gen) {
		ipc_conn_queue(&a->conn, m);
		flush(a);
	}
	ipc_msg_free(m);
}

void agent_drain(struct agent *a, void (*done)(void *), void *arg)
{
	a->draining = true;
	a->drained = done;
	a->drained_arg = arg;
	evtimer_del(a->ev_retry);
	if (a->connected) {
		struct ipc_msg m;
		ipc_msg_init(&m, QUEUE_AGENT_DRAIN, 0);
		ipc_conn_queue(&a->conn, &m);
		ipc_msg_free(&m);
		flush(a);
	} else {
		check_drained(a, false);
	}
}
