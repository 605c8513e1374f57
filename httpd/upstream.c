/* upstream.c — the front's channels to the users' mail processes (see
 * upstream.h). */
#include "httpd/upstream.h"
#include "httpd/chan.h"
#include "httpd/front.h"
#include "httpd/httpd.h"
#include "httpd/proto.h"
#include "httpd/submit.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/login_handoff.h"
#include "common/util.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUCKETS 256
#define KINDS 6
#define STREAM_BACKLOG_MAX (1024 * 1024)	/* unread push output that ends a stream */

struct pending {
	uint32_t id, kind;
	struct evhttp_request *req;
	struct upstream *u;
	bool streaming;
	struct pending *next;
};

struct upstream {
	char *user;
	char *client;		/* address of the login that opened the channel */
	struct chan *ch;
	struct pending *reqs;
	unsigned busy[KINDS];
	uint32_t next_id;
	struct event *idle;
	bool closed;
	struct upstream *next;	/* hash chain */
};

static struct upstream *table[BUCKETS];

static unsigned bucket(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % BUCKETS;
}

void upstream_init(void)
{
}

struct upstream *upstream_find(const char *user)
{
	for (struct upstream *u = table[bucket(user)]; u; u = u->next)
		if (!strcmp(u->user, user))
			return u;
	return NULL;
}

unsigned upstream_busy(const struct upstream *u, uint32_t kind)
{
	return kind < KINDS ? u->busy[kind] : 0;
}

static void unlink_upstream(struct upstream *u)
{
	for (struct upstream **pp = &table[bucket(u->user)]; *pp; pp = &(*pp)->next)
		if (*pp == u) {
			*pp = u->next;
			return;
		}
}

static void free_later(evutil_socket_t fd, short what, void *arg)
{
	struct upstream *u = arg;
	chan_free(u->ch);
	event_free(u->idle);
	free(u->user);
	free(u->client);
	free(u);
}

static void arm_idle(struct upstream *u)
{
	struct timeval tv = { (time_t)F.session_idle_s, 0 };
	if (!u->reqs)
		evtimer_add(u->idle, &tv);
}

static void drop_pending(struct pending *p)
{
	struct upstream *u = p->u;
	for (struct pending **pp = &u->reqs; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	if (p->kind < KINDS && u->busy[p->kind])
		u->busy[p->kind]--;
	free(p);
	arm_idle(u);
}

static void end_stream(struct pending *p)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(p->req);
	if (evcon)
		evhttp_connection_set_closecb(evcon, NULL, NULL);
	evhttp_send_reply_end(p->req);	/* frees req, also when its client is gone */
}

/* The mail process is gone: every request still waiting gets 503. */
static void fail_all(struct upstream *u)
{
	while (u->reqs) {
		struct pending *p = u->reqs;
		if (p->streaming)
			end_stream(p);
		else
			reply_problem(p->req, 503, "about:blank", NULL, "Mail service unavailable, try again");
		drop_pending(p);
	}
}

static void close_upstream(struct upstream *u, const char *why)
{
	if (u->closed)
		return;
	u->closed = true;
	unlink_upstream(u);
	evtimer_del(u->idle);
	fail_all(u);
	log_debug("http: channel of %s closed: %s", u->user, why);
	event_base_once(F.base, -1, EV_TIMEOUT, free_later, u, NULL);
}

static void on_chan_close(struct chan *c, const char *why, void *arg)
{
	struct upstream *u = arg;
	if (u->ch == c)
		close_upstream(u, why);
}

static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct upstream *u = arg;
	if (!u->reqs)
		close_upstream(u, "idle");
}

static struct pending *find_pending(struct upstream *u, uint32_t id)
{
	for (struct pending *p = u->reqs; p; p = p->next)
		if (p->id == id)
			return p;
	return NULL;
}

/* "Name: value\n" lines from the mail process onto the response. */
static void add_headers(struct evhttp_request *req, const char *lines)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	while (*lines) {
		const char *nl = strchr(lines, '\n');
		size_t n = nl ? (size_t)(nl - lines) : strlen(lines);
		char *line = xstrndup(lines, n);
		char *colon = strchr(line, ':');
		if (colon) {
			*colon = '\0';
			evhttp_add_header(h, line, str_trim(colon + 1));	/* refuses CR/LF */
		}
		free(line);
		lines += n + (nl != NULL);
	}
}

static void on_stream_close(struct evhttp_connection *evcon, void *arg)
{
	struct pending *p = arg;
	struct ipc_msg m;
	ipc_msg_init(&m, HTTP_CANCEL, p->id);
	chan_send(p->u->ch, &m);
	end_stream(p);
	drop_pending(p);
}

static void start_stream(struct pending *p)
{
	struct evhttp_connection *evcon = evhttp_request_get_connection(p->req);
	if (!evcon) {
		on_stream_close(NULL, p);
		return;
	}
	p->streaming = true;
	struct evkeyvalq *h = evhttp_request_get_output_headers(p->req);
	evhttp_add_header(h, "Content-Type", "text/event-stream; charset=utf-8");
	evhttp_add_header(h, "Cache-Control", "no-cache, no-store");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	/* the stream lives as long as the client listens: no request timeout */
	evhttp_connection_set_timeout(evcon, -1);
	evhttp_connection_set_closecb(evcon, on_stream_close, p);
	evhttp_send_reply_start(p->req, 200, "OK");
}

static void on_res(struct upstream *u, struct ipc_msg *m)
{
	struct pending *p = find_pending(u, m->hdr.id);
	uint32_t status = ipc_get_u32(m);
	const char *ctype = ipc_get_str(m, 256);
	const char *hdrs = ipc_get_str(m, CHAN_HDR_MAX);
	size_t len;
	const void *inl;
	int fd;
	if (!chan_get_body_ref(m, UINT64_MAX, &len, &inl, &fd) || status < 100 || status > 599) {
		log_err("http: malformed answer from the mail process of %s", u->user);
		if (fd >= 0)
			close(fd);
		close_upstream(u, "malformed answer");
		return;
	}
	if (!p) {
		if (fd >= 0)
			close(fd);
		return;
	}
	if (p->streaming || (p->kind == REQ_EVENTS && status == 200)) {
		/* the first answer starts a stream, a second one ends it */
		if (fd >= 0)
			close(fd);
		if (p->streaming) {
			end_stream(p);
			drop_pending(p);
		} else {
			start_stream(p);
		}
		return;
	}
	struct evbuffer *b = evbuffer_new();
	if (fd >= 0)
		evbuffer_add_file(b, fd, 0, (ev_off_t)len);	/* takes the fd */
	else
		evbuffer_add(b, inl, len);
	struct evkeyvalq *h = evhttp_request_get_output_headers(p->req);
	if (*ctype)
		evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	add_headers(p->req, hdrs);
	evhttp_send_reply(p->req, (int)status, NULL, b);
	evbuffer_free(b);
	drop_pending(p);
}

static void on_event(struct upstream *u, struct ipc_msg *m)
{
	struct pending *p = find_pending(u, m->hdr.id);
	const char *text = ipc_get_str(m, CHAN_EVENT_MAX);
	if (!ipc_end(m)) {
		close_upstream(u, "malformed event");
		return;
	}
	if (!p || !p->streaming)
		return;
	struct evhttp_connection *evcon = evhttp_request_get_connection(p->req);
	struct bufferevent *bev = evcon ? evhttp_connection_get_bufferevent(evcon) : NULL;
	if (!bev || evbuffer_get_length(bufferevent_get_output(bev)) > STREAM_BACKLOG_MAX) {
		/* a client that stops reading loses its stream, not our memory */
		on_stream_close(evcon, p);
		return;
	}
	struct evbuffer *b = evbuffer_new();
	evbuffer_add(b, text, strlen(text));
	evhttp_send_reply_chunk(p->req, b);
	evbuffer_free(b);
}

/* EmailSubmission: the mail process hands over a socket for one message
 * (submit_front.c); it stays this channel's user's submission. */
static void on_submit(struct upstream *u, struct ipc_msg *m)
{
	int fd = ipc_take_fd(m);
	if (fd < 0 || !ipc_end(m)) {
		if (fd >= 0)
			close(fd);
		close_upstream(u, "malformed submission");
		return;
	}
	submit_front_start(u->user, u->client, fd);
}

static void on_chan_msg(struct chan *c, struct ipc_msg *m, void *arg)
{
	struct upstream *u = arg;
	if (u->closed)
		return;
	if (m->hdr.type == HTTP_RES)
		on_res(u, m);
	else if (m->hdr.type == HTTP_EVENT)
		on_event(u, m);
	else if (m->hdr.type == HTTP_SUBMIT)
		on_submit(u, m);
	else
		close_upstream(u, "unexpected message");
}

static int send_handoff(const char *user, const char *token, const char *client, int fd)
{
	char *path = xasprintf("%s/%s", F.run_prefix, HTTP_MAIL_SOCK);
	int s = ipc_connect(path);
	if (s < 0) {
		log_err("http: cannot reach the mail role at %s", path);
		free(path);
		close(fd);
		return -1;
	}
	free(path);
	struct ipc_msg m;
	ipc_msg_init(&m, HTTP_HANDOFF, 1);
	/* the front ends TLS and reads whole requests: no flags, nothing pending */
	login_handoff_put(&m, &(struct login_handoff){ .user = user, .token = token, .ip = client,
						       .fd = fd });
	int r = ipc_send(s, &m);
	ipc_msg_free(&m);
	close(s);
	return r;
}

struct upstream *upstream_open(const char *user, const char *token, const char *client)
{
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return NULL;
	if (send_handoff(user, token, client, sp[1]) < 0) {
		close(sp[0]);
		return NULL;
	}
	struct upstream *u = xcalloc(1, sizeof *u);
	u->user = xstrdup(user);
	u->client = xstrdup(client);
	u->next_id = 1;
	u->ch = chan_new(F.base, sp[0], on_chan_msg, on_chan_close, u);
	u->idle = evtimer_new(F.base, on_idle, u);
	unsigned b = bucket(user);
	u->next = table[b];
	table[b] = u;
	return u;
}

void upstream_send(struct upstream *u, struct evhttp_request *req, uint32_t kind, const char *arg)
{
	struct pending *p = xcalloc(1, sizeof *p);
	if (u->next_id == 0)
		u->next_id = 1;
	p->id = u->next_id++;
	p->kind = kind;
	p->req = req;
	p->u = u;
	p->next = u->reqs;
	u->reqs = p;
	if (kind < KINDS)
		u->busy[kind]++;
	evtimer_del(u->idle);
	const char *ct = evhttp_find_header(evhttp_request_get_input_headers(req), "Content-Type");
	struct ipc_msg m;
	ipc_msg_init(&m, HTTP_REQ, p->id);
	ipc_put_u32(&m, kind);
	ipc_put_str(&m, arg);
	ipc_put_str(&m, ct && strlen(ct) < 256 ? ct : "");
	if (chan_put_body_evbuffer(&m, evhttp_request_get_input_buffer(req)) < 0) {
		ipc_msg_free(&m);
		reply_status(req, 503, "Out of memory");
		drop_pending(p);
		return;
	}
	chan_send(u->ch, &m);
}

void upstream_drain(void)
{
	for (unsigned b = 0; b < BUCKETS; b++)
		for (struct upstream *u = table[b]; u; u = u->next)
			for (struct pending *p = u->reqs, *next; p; p = next) {
				next = p->next;
				if (p->streaming)
					on_stream_close(NULL, p);
			}
}
