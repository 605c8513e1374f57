/* burl.c — BURL (RFC 4468): a chunk of the message taken from an IMAP URL
 * instead of from the client, for an authenticated user.
 *
 * smtpd reads no mailbox: it asks the imapd mail role over
 * RUN/imap-urlauth.sock (common/urlfetch.h) as the submission server
 * sending for the authenticated user, and the mail role yields the octets
 * only for a URL whose URLAUTH token verifies under its owner's mailbox
 * access key and whose access identifier is submit+ that user. The octets
 * then go through the same body machine as BDAT's (data.h). Both the
 * question and the octets are read from the event loop, each with a time
 * limit; the client's further input waits meanwhile (s->busy). */
#include "smtpd/session.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/urlfetch.h"
#include "common/util.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BURL_FAILED "554 5.6.6 IMAP URL resolution failed"

void burl_free(struct session *s)
{
	struct burl *b = &s->burl;
	if (!b->url)
		return;	/* no BURL holds anything */
	if (b->ev)
		event_free(b->ev);
	if (b->conn) {
		ipc_conn_close(b->conn);	/* closes b->sock */
		free(b->conn);
	} else if (b->sock >= 0) {
		close(b->sock);
	}
	if (b->fd >= 0)
		close(b->fd);
	free(b->url);
	memset(b, 0, sizeof *b);
	b->sock = b->fd = -1;
}

static void fail(struct session *s, const char *reply)
{
	log_info("burl: user=%s: %s", s->auth_user, reply);
	burl_free(s);
	txn_fail(s, reply);
	session_resume(s);
}

/* The chunk is in: on to the next command, or (last) to the queue, which
 * resumes the session once it has answered. */
static void chunk_complete(struct session *s)
{
	bool last = s->burl.last;
	uint64_t size = s->burl.size;
	log_info("burl: user=%s: %llu octets%s", s->auth_user, (unsigned long long)size, last ? " (last)" : "");
	burl_free(s);
	s->busy = false;
	txn_chunk_end(s, last, size);
	if (!s->busy)
		session_resume(s);
}

static void wait_for(struct session *s, int fd, event_callback_fn cb)
{
	struct burl *b = &s->burl;
	if (b->ev)
		event_free(b->ev);
	b->ev = event_new(s->srv->base, fd, EV_READ | EV_PERSIST, cb, s);
	struct timeval tv = { URLFETCH_TIMEOUT_MS / 1000, 0 };
	event_add(b->ev, &tv);
}

/* The URL's octets, as they come: into the message. */
static void on_data(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct burl *b = &s->burl;
	char buf[16384];
	ssize_t n = what & EV_TIMEOUT ? -1 :
		    read(fd, buf, b->left < sizeof buf ? (size_t)b->left : sizeof buf);
	if (n < 0 && errno == EAGAIN && !(what & EV_TIMEOUT))
		return;
	if (n <= 0) {
		fail(s, BURL_FAILED);
		return;
	}
	txn_feed(s, buf, (size_t)n);
	b->left -= (uint64_t)n;
	if (!b->left)
		chunk_complete(s);
}

/* imapd's answer: the size of the octets and where they come from. */
static void on_reply(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct burl *b = &s->burl;
	struct ipc_msg m;
	int got = 0, rd = what & EV_TIMEOUT ? -1 : ipc_conn_read(b->conn);
	if (rd == 0)
		got = ipc_conn_next(b->conn, &m);
	if (rd == 0 && got == 0 && !((struct ipc_conn *)b->conn)->eof)
		return;	/* more to come */
	struct urlfetch_reply r = { .fd = -1 };
	bool ok = got == 1 && urlfetch_parse(&m, &r) == 0 && r.ok;
	if (got == 1)
		ipc_msg_free(&m);
	uint64_t had = s->tx.body.size, max = s->srv->conf.max_message_size;
	if (!ok || r.size > (max > had ? max - had : 0)) {
		urlfetch_reply_free(&r);
		fail(s, ok ? "552 5.3.4 Message size exceeds fixed maximum message size" : BURL_FAILED);
		return;
	}
	ipc_conn_close(b->conn);
	free(b->conn);
	b->conn = NULL;
	b->sock = -1;
	b->fd = r.fd;
	r.fd = -1;
	b->size = b->left = r.size;
	urlfetch_reply_free(&r);
	if (!b->left) {
		chunk_complete(s);
		return;
	}
	fd_nonblock(b->fd);
	wait_for(s, b->fd, on_data);
}

/* Ask imapd's mail role for the URL, as the submission server; false when
 * it cannot be reached. */
static bool ask(struct session *s)
{
	struct burl *b = &s->burl;
	b->sock = s->srv->urlfetch_path ? ipc_connect(s->srv->urlfetch_path) : -1;
	struct ipc_msg m;
	urlfetch_request(&m, b->url, URLF_DATA, s->auth_user);
	int rc = b->sock >= 0 ? ipc_send(b->sock, &m) : -1;	/* a small message on a local socket */
	ipc_msg_free(&m);
	if (rc < 0) {
		log_warn("burl: cannot reach imapd's URLAUTH service: %s", strerror(errno));
		return false;
	}
	fd_nonblock(b->sock);
	b->conn = xcalloc(1, sizeof(struct ipc_conn));
	ipc_conn_init(b->conn, b->sock);
	wait_for(s, b->sock, on_reply);
	return true;
}

#define BURL_UNAVAILABLE "454 4.7.0 IMAP URL service unavailable, try again later"

void burl_queue_ready(struct session *s, const char *refusal)
{
	if (refusal || !ask(s))
		fail(s, refusal ? refusal : BURL_UNAVAILABLE);
}

void cmd_burl(struct session *s, const char *arg)
{
	char url[BURL_URL_MAX + 1];
	bool last;
	if (!parse_burl(arg, url, sizeof url, &last)) {
		session_reply(s, "501 5.5.4 Syntax: BURL imap-url [LAST]");
		session_error(s);
		return;
	}
	if (!s->auth_user) {
		session_reply(s, "530 5.7.0 Authentication required");
		session_error(s);
		return;
	}
	burl_free(s);
	s->burl = (struct burl){ .url = xstrdup(url), .last = last, .sock = -1, .fd = -1 };
	s->busy = true;
	if (s->state == ST_RCPT) {	/* the message begins: a spool file first */
		s->tx.bdat = true;
		s->state = ST_BDAT;
		queue_new(s);	/* continues in burl_queue_ready */
		return;
	}
	if (!ask(s)) {	/* answered here: the input loop goes on by itself */
		burl_free(s);
		txn_fail(s, BURL_UNAVAILABLE);
		s->busy = false;
	}
}
