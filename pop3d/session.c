/* session.c — TRANSACTION and UPDATE states in the session process. */
#include "pop3d/session.h"
#include "pop3d/maildrop.h"
#include "pop3d/msgout.h"
#include "pop3d/netio.h"
#include "pop3d/pop3_cmd.h"
#include "pop3d/sandbox.h"
#include "common/log.h"
#include "common/sandbox.h"
#include "common/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct sess {
	const struct session_args *a;
	struct netio io;
	struct maildrop md;
	unsigned errors;
	size_t retr, top, deleted;
	unsigned long long retr_bytes;
	const char *end;
	bool quit;
};

static void reply(struct sess *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(struct sess *s, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	netio_printf(&s->io, "%s", buf);
}

static bool error(struct sess *s, const char *msg)
{
	reply(s, "-ERR %s", msg);
	if (++s->errors < s->a->conf->max_errors)
		return false;
	reply(s, "-ERR Too many errors, closing connection");
	s->end = "errors";
	return true;
}

/* Message argument: index into md.msgs, or -1 after replying. */
static long msg_arg(struct sess *s, const char *arg)
{
	unsigned long n = pop3_msgnum(arg, s->md.n);
	if (!n) {
		error(s, "No such message");
		return -1;
	}
	if (s->md.msgs[n - 1].deleted) {
		error(s, "Message is deleted");
		return -1;
	}
	return (long)n - 1;
}

static void cmd_stat(struct sess *s)
{
	size_t n = 0;
	uint64_t total = 0;
	for (size_t i = 0; i < s->md.n; i++) {
		if (!s->md.msgs[i].deleted) {
			n++;
			total += s->md.msgs[i].size;
		}
	}
	reply(s, "+OK %zu %llu", n, (unsigned long long)total);
}

static void cmd_list(struct sess *s, const struct pop3_cmd *c, bool uidl)
{
	if (c->argc) {
		long i = msg_arg(s, c->argv[0]);
		if (i < 0)
			return;
		if (uidl)
			reply(s, "+OK %ld %s", i + 1, s->md.msgs[i].uidl);
		else
			reply(s, "+OK %ld %llu", i + 1, (unsigned long long)s->md.msgs[i].size);
		return;
	}
	reply(s, "+OK %s", uidl ? "Unique-ID listing follows" : "Scan listing follows");
	for (size_t i = 0; i < s->md.n; i++) {
		const struct msg *m = &s->md.msgs[i];
		if (m->deleted)
			continue;
		if (uidl)
			reply(s, "%zu %s", i + 1, m->uidl);
		else
			reply(s, "%zu %llu", i + 1, (unsigned long long)m->size);
	}
	reply(s, ".");
}

/* Stream a message in wire form; body_lines -1 for RETR. */
static void send_msg(struct sess *s, long i, long body_lines)
{
	int fd = maildrop_open_msg(&s->md, (size_t)i);
	if (fd < 0) {
		log_warn("pop3: user=%s message %s: %s", s->a->user, s->md.msgs[i].name, strerror(errno));
		error(s, errno == ENOENT ? "Message was removed by another client" : "[SYS/TEMP] Cannot read message");
		return;
	}
	if (body_lines < 0)
		reply(s, "+OK %llu octets", (unsigned long long)s->md.msgs[i].size);
	else
		reply(s, "+OK Top of message follows");
	static char in[65536], out[2 * sizeof in];
	struct msgout w;
	msgout_init(&w, body_lines);
	ssize_t n;
	uint64_t before = s->io.bytes_out + s->io.out_len;
	while (!w.done && (n = read(fd, in, sizeof in)) > 0 && !s->io.failed)
		netio_write(&s->io, out, msgout_feed(&w, in, (size_t)n, out));
	close(fd);
	netio_write(&s->io, out, msgout_finish(&w, out));
	s->retr_bytes += s->io.bytes_out + s->io.out_len - before;
}

static void cmd_retr(struct sess *s, const struct pop3_cmd *c)
{
	long i = msg_arg(s, c->argv[0]);
	if (i < 0)
		return;
	s->retr++;
	s->md.msgs[i].retrieved = true;
	send_msg(s, i, -1);
}

static void cmd_top(struct sess *s, const struct pop3_cmd *c)
{
	long i = msg_arg(s, c->argv[0]);
	unsigned long lines;
	if (i < 0)
		return;
	if (!pop3_count(c->argv[1], &lines)) {
		error(s, "Invalid line count");
		return;
	}
	s->top++;
	send_msg(s, i, (long)lines);
}

static void cmd_dele(struct sess *s, const struct pop3_cmd *c)
{
	long i = msg_arg(s, c->argv[0]);
	if (i < 0)
		return;
	s->md.msgs[i].deleted = true;
	reply(s, "+OK Message %ld deleted", i + 1);
}

static void cmd_rset(struct sess *s)
{
	for (size_t i = 0; i < s->md.n; i++)
		s->md.msgs[i].deleted = false;
	reply(s, "+OK %zu messages", s->md.n);
}

static void cmd_capa(struct sess *s)
{
	const struct pop3d_conf *c = s->a->conf;
	reply(s, "+OK Capability list follows");
	reply(s, "TOP");
	reply(s, "UIDL");
	reply(s, "RESP-CODES");
	reply(s, "PIPELINING");
	if (c->expire_never || c->expire_zero)
		reply(s, "EXPIRE %s", c->expire_never ? "NEVER" : "0");
	if (c->login_delay)
		reply(s, "LOGIN-DELAY %u", c->login_delay);
	reply(s, "IMPLEMENTATION tern");
	reply(s, ".");
}

/* UPDATE state (RFC 1939 6): only here are messages removed. */
static void cmd_quit(struct sess *s)
{
	/* EXPIRE 0 (RFC 2449 6.7): what the client retrieved does not stay. */
	for (size_t i = 0; s->a->conf->expire_zero && i < s->md.n; i++)
		if (s->md.msgs[i].retrieved)
			s->md.msgs[i].deleted = true;
	size_t removed = 0, failed = maildrop_update(&s->md, &removed);
	s->deleted = removed;
	maildrop_unlock(&s->md);
	if (failed) {
		log_warn("pop3: user=%s %zu deleted messages could not be removed", s->a->user, failed);
		reply(s, "-ERR [SYS/TEMP] Some deleted messages not removed");
	} else {
		reply(s, "+OK Logging out, %zu messages deleted", removed);
	}
	s->end = "quit";
	s->quit = true;
}

static bool dispatch(struct sess *s, const struct pop3_cmd *c)
{
	switch (c->def->id) {
	case CMD_STAT: cmd_stat(s); break;
	case CMD_LIST: cmd_list(s, c, false); break;
	case CMD_UIDL: cmd_list(s, c, true); break;
	case CMD_RETR: cmd_retr(s, c); break;
	case CMD_TOP: cmd_top(s, c); break;
	case CMD_DELE: cmd_dele(s, c); break;
	case CMD_RSET: cmd_rset(s); break;
	case CMD_NOOP: reply(s, "+OK"); break;
	case CMD_CAPA: cmd_capa(s); break;
	case CMD_QUIT: cmd_quit(s); break;
	default: return error(s, "Command not valid in this state");
	}
	return s->quit || s->end;
}

/* One command line; true when the session ends. */
static bool command(struct sess *s, char *line, bool has_nul)
{
	struct pop3_cmd c;
	enum pop3_parse r = has_nul ? PARSE_UNKNOWN : pop3_parse(line, &c);
	switch (r) {
	case PARSE_OK:
		if (!(c.def->states & POP3_ST_TRANS))
			return error(s, "Command not valid in this state");
		return dispatch(s, &c);
	case PARSE_EMPTY:
		return error(s, "Empty command");
	case PARSE_SYNTAX:
		return error(s, "Syntax error");
	default:
		return error(s, "Unknown command");
	}
}

static void loop(struct sess *s)
{
	for (;;) {
		char *line;
		bool has_nul;
		enum netio_status st = netio_line(&s->io, s->a->conf->max_command, &line, &has_nul);
		if (st == NET_LINE) {
			if (command(s, line, has_nul))
				return;
		} else if (st == NET_TOOLONG) {
			if (error(s, "Line too long"))
				return;
		} else {
			/* RFC 1939 3: an autologout or a dropped connection
			 * never enters UPDATE: nothing is deleted. */
			s->end = st == NET_TIMEOUT ? "idle timeout" : st == NET_EOF ? "disconnect" : "connection error";
			return;
		}
		if (s->io.failed) {
			s->end = "connection error";
			return;
		}
	}
}

/* Open, confine, lock and list; false after answering the login with -ERR. */
static bool start(struct sess *s)
{
	const struct session_args *a = s->a;
	if (maildrop_open(&s->md, a->maildir) < 0) {
		log_err("pop3: user=%s cannot open %s: %s", a->user, a->maildir, strerror(errno));
		reply(s, "-ERR [SYS/TEMP] Cannot open mailbox");
		return false;
	}
	int abi = sandbox_maildir(s->md.dirfd);
	if (abi < 0) {
		log_err("pop3: user=%s cannot confine session: %s", a->user, strerror(errno));
		reply(s, "-ERR [SYS/TEMP] Cannot open mailbox");
		return false;
	}
	log_debug("pop3: user=%s landlock abi=%d", a->user, abi);
	/* Files in its Maildir through descriptors it has; no sockets, no fork. */
	sandbox_seccomp("pop3d-session", SB_FILES);
	switch (maildrop_lock(&s->md, a->conf->login_delay)) {
	case MD_LOCKED:
		break;
	case MD_INUSE:
		s->end = "in use";
		reply(s, "-ERR [IN-USE] Mailbox is locked by another POP3 session");
		return false;
	case MD_DELAY:
		s->end = "login delay";
		reply(s, "-ERR [LOGIN-DELAY] Minimum time between logins not reached");
		return false;
	default:
		log_err("pop3: user=%s cannot lock %s: %s", a->user, a->maildir, strerror(errno));
		reply(s, "-ERR [SYS/TEMP] Cannot lock mailbox");
		return false;
	}
	if (maildrop_scan(&s->md, a->conf->max_messages) < 0) {
		log_err("pop3: user=%s cannot list %s: %s", a->user, a->maildir, strerror(errno));
		reply(s, "-ERR [SYS/TEMP] Cannot list mailbox");
		return false;
	}
	reply(s, "+OK Logged in, %zu messages (%llu octets)", s->md.n, (unsigned long long)s->md.total);
	return true;
}

int session_run(const struct session_args *a)
{
	struct sess s = { .a = a };
	uint64_t t0 = now_ms();
	netio_init(&s.io, a->fd, a->conf->idle_timeout, a->pending, a->npending);
	if (start(&s))
		loop(&s);
	netio_flush(&s.io);
	log_info("pop3: user=%s ip=%s tls=%s msgs=%zu retr=%zu top=%zu bytes=%llu deleted=%zu "
		 "secs=%llu end=%s", a->user, a->ip, a->tls ? "yes" : "no", s.md.n, s.retr, s.top,
		 s.retr_bytes, s.deleted, (unsigned long long)((now_ms() - t0) / 1000),
		 s.end ? s.end : "refused");
	maildrop_close(&s.md);
	netio_free(&s.io);
	close(a->fd);
	return 0;
}
