/* session.c — the authenticated IMAP session: the input loop and output
 * helpers. Commands are the layer above (s->ops, commands.c). */
#include "imapd/session.h"
#include "imapd/imapd.h"
#include "imapd/park.h"
#include "common/linereader.h"
#include "common/log.h"
#include "common/util.h"

#include <event2/event.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- output ---- */

struct evbuffer *s_buf(struct session *s)
{
	return bufferevent_get_output(s->bev);
}

/* Each response line reaches the output buffer in one piece, so a COMPRESS
 * filter flushes once per line rather than once per fragment. */
void s_out(struct session *s, const char *fmt, ...)
{
	struct evbuffer *line = evbuffer_new();
	va_list ap;
	va_start(ap, fmt);
	evbuffer_add_vprintf(line, fmt, ap);
	va_end(ap);
	evbuffer_add(line, "\r\n", 2);
	evbuffer_add_buffer(s_buf(s), line);
	evbuffer_free(line);
}

static void tagged(struct session *s, const char *kind, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static void tagged(struct session *s, const char *kind, const char *fmt, va_list ap)
{
	struct evbuffer *line = evbuffer_new();
	evbuffer_add_printf(line, "%s %s ", s->tag ? s->tag : "*", kind);
	evbuffer_add_vprintf(line, fmt, ap);
	evbuffer_add(line, "\r\n", 2);
	evbuffer_add_buffer(s_buf(s), line);
	evbuffer_free(line);
}

void s_ok(struct session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tagged(s, "OK", fmt, ap);
	va_end(ap);
}

void s_no(struct session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tagged(s, "NO", fmt, ap);
	va_end(ap);
}

void s_bad(struct session *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	tagged(s, "BAD", fmt, ap);
	va_end(ap);
	s->bad_commands++;
}

static void process_input(struct session *s)
{
	while (!s->closing) {
		if (s->fetch || line_output_full(s_buf(s))) {
			/* a FETCH is still sending, or replies wait for a client that
			 * pipelines without reading: read nothing more until they went */
			bufferevent_disable(s->bev, EV_READ);
			return;
		}
		/* fetched anew each time: COMPRESS replaces the bufferevent */
		struct evbuffer *in = bufferevent_get_input(s->bev);
		if (s->idling) {
			s->ops->idle_input(s);
			if (s->idling)
				return;
			continue;
		}
		char tag[64];
		enum cr_status st = cr_feed(&s->cr, in, tag, sizeof tag);
		if (st == CR_MORE)
			return;
		if (st == CR_CONTINUE) {
			s_out(s, "+ Ready for literal data");
			continue;
		}
		if (st == CR_APPEND_LITERAL) {
			s->ops->append_literal(s, tag);
			continue;
		}
		if (st == CR_TOOLONG) {
			evbuffer_add_printf(s_buf(s), "%s BAD Command too long\r\n", tag);
			s->bad_commands++;
		} else if (st == CR_LITERAL_TOOBIG) {
			evbuffer_add_printf(s_buf(s), "%s NO [TOOBIG] Literal too large (limit %llu)\r\n",
					    tag, (unsigned long long)s->lim.message_max);
		} else if (st == CR_FATAL) {
			s_out(s, "* BYE Literal too large");
			s->closing = true;
		} else {
			s->ops->command(s);
			cr_reset(&s->cr);
		}
		s->ops->append_discard(s);	/* a spooled literal its command did not take */
		if (s->bad_commands > 20) {
			s_out(s, "* BYE Too many invalid commands");
			s->closing = true;
		}
	}
}

static void on_read(struct bufferevent *bev, void *arg);
static void on_write(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

void session_set_bev(struct session *s, struct bufferevent *bev)
{
	s->bev = bev;
	bufferevent_setcb(bev, on_read, on_write, on_event, s);
	struct timeval tv = { (time_t)s->lim.idle_timeout, 0 };
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_setwatermark(bev, EV_WRITE, S_OUT_LOW, 0);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	process_input(s);
	if (s->closing) {
		bufferevent_disable(bev, EV_READ);
		if (evbuffer_get_length(s_buf(s)) == 0)
			event_base_loopexit(s->base, NULL);
	}
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	if (s->pumping)
		return;	/* called back from inside fetch_pump */
	if (s->fetch && !s->ops->fetch_pump(s) && !s->closing) {
		/* the FETCH is complete: on with the commands that wait */
		bufferevent_enable(s->bev, EV_READ);
		on_read(s->bev, s);
		return;
	}
	if (!s->fetch && !s->closing && !line_output_full(s_buf(s)) &&
	    !(bufferevent_get_enabled(s->bev) & EV_READ)) {
		/* the replies held back by process_input went */
		bufferevent_enable(s->bev, EV_READ);
		on_read(s->bev, s);
		return;
	}
	if (s->closing && evbuffer_get_length(s_buf(s)) == 0)
		event_base_loopexit(s->base, NULL);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;
	if ((what & BEV_EVENT_TIMEOUT) && !s->closing) {
		s_out(s, "* BYE Autologout; idle for too long");
		s->closing = true;
		bufferevent_disable(bev, EV_READ);
		struct timeval tv = { 10, 0 };
		bufferevent_set_timeouts(bev, NULL, &tv);
		bufferevent_enable(bev, EV_WRITE);
		return;
	}
	event_base_loopexit(s->base, NULL);
}

/* With COMPRESS the last words may still sit, compressed, in the socket's
 * buffer under the filter: write them out before closing. */
static void flush_underlying(struct session *s)
{
	struct bufferevent *u = bufferevent_get_underlying(s->bev);
	if (!u)
		return;
	bufferevent_flush(s->bev, EV_WRITE, BEV_FLUSH);
	struct evbuffer *out = bufferevent_get_output(u);
	int fd = bufferevent_getfd(u);
	struct timeval tv = { 10, 0 };
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	int flags = fcntl(fd, F_GETFL);
	if (flags >= 0)
		fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	/* the buffer belongs to the bufferevent (frozen for direct writes): copy */
	size_t n = evbuffer_get_length(out);
	if (n)
		(void)write_all(fd, evbuffer_pullup(out, -1), n);
}

/* Commands the login process read behind LOGIN (a pipelining client). libevent
 * keeps the end of a socket bufferevent's input frozen (only its own reads add
 * there), so a plain evbuffer_add would fail and drop them. */
static void add_pending(struct bufferevent *bev, const void *pending, size_t n)
{
	struct evbuffer *in = bufferevent_get_input(bev);
	evbuffer_unfreeze(in, 0);
	if (evbuffer_add(in, pending, n) < 0)
		log_err("cannot queue %zu bytes read before the session started", n);
	evbuffer_freeze(in, 0);
}

static void session_init(struct session *s, int fd, const char *user, const char *tag,
			 const char *ip, const struct session_limits *lim, const struct session_ops *ops)
{
	*s = (struct session){ .ops = ops };
	s->lim = *lim;
	s->user = xstrdup(user);
	s->ip = xstrdup(ip);
	s->tag = xstrdup(tag);
	s->inotify_fd = -1;
	s->base = event_base_new();
	if (fd >= 0)
		fd_nonblock(fd);
	s->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
	cr_init(&s->cr, lim->line_max, lim->cmd_max, lim->message_max);
	bufferevent_setcb(s->bev, on_read, on_write, on_event, s);
	struct timeval tv = { (time_t)lim->idle_timeout, 0 };
	bufferevent_set_timeouts(s->bev, &tv, &tv);	/* reading and writing */
	bufferevent_setwatermark(s->bev, EV_WRITE, S_OUT_LOW, 0);
}

/* Serve until the session ends, then free it. */
static int session_loop(struct session *s)
{
	if (!s->closing || evbuffer_get_length(s_buf(s)))
		event_base_dispatch(s->base);
	if (!s->parked)
		flush_underlying(s);
	log_info("imap %s: user=%s client=%s", s->parked ? "parked" : "logout", s->user, s->ip);
	bufferevent_free(s->bev);
	s->ops->end(s);	/* an APPEND or FETCH the client left in the middle of, the selection */
	cr_free(&s->cr);
	free(s->user);
	free(s->ip);
	free(s->tag);
	return 0;
}

int session_run(int fd, const char *user, const char *tag, const char *ip, bool tls,
		const void *pending, size_t npending, const struct session_limits *lim,
		const struct session_ops *ops)
{
	struct session s;
	session_init(&s, fd, user, tag, ip, lim, ops);
	s.tls = tls;
	s_ok(&s, "[CAPABILITY %s APPENDLIMIT=%llu] Logged in", CAPS_AUTHED,
	     (unsigned long long)lim->message_max);
	if (npending)
		add_pending(s.bev, pending, npending);
	bufferevent_enable(s.bev, EV_READ | EV_WRITE);
	if (npending)
		on_read(s.bev, &s);
	return session_loop(&s);
}

void session_update(int chan, const struct park_state *ps, bool shared,
		    const struct session_limits *lim, const struct session_ops *ops)
{
	struct session s;
	session_init(&s, -1, ps->user, "*", "", lim, ops);
	ops->update(&s, ps, shared, chan);
	bufferevent_free(s.bev);
	ops->end(&s);
	cr_free(&s.cr);
	free(s.user);
	free(s.ip);
	free(s.tag);
}

int session_resume(int fd, struct park_state *ps, uint32_t why, const struct session_limits *lim,
		   const struct session_ops *ops)
{
	struct session s;
	session_init(&s, fd, ps->user, ps->tag, ps->ip, lim, ops);
	bufferevent_enable(s.bev, EV_READ | EV_WRITE);
	ops->resume(&s, ps, why);	/* its input waits in the socket until the loop runs */
	return session_loop(&s);
}
