/* txn.c — the mail transaction: MAIL, RCPT, DATA, BDAT, the Received header
 * and the hand-off to queued. 250 after the body is said only once queued has
 * answered QUEUE_COMMIT_RES OK (the message is durable). */
#include "smtpd/session.h"
#include "smtpd/inbound.h"
#include "common/log.h"
#include "common/queue_proto.h"
#include "common/util.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SPOOL_FLUSH (64 * 1024)
#define BDAT_SLACK (1024 * 1024)	/* chunks read (and refused) past the limit */
#define DATA_SLACK (4 * 1024 * 1024)	/* DATA read (and refused) past the limit */

void txn_free(struct session *s)
{
	struct txn *t = &s->tx;
	for (unsigned i = 0; i < t->nrcpt; i++) {
		free(t->rcpts[i].addr);
		free(t->rcpts[i].orcpt);
	}
	free(t->rcpts);
	free(t->pending.addr);
	free(t->pending.orcpt);
	if (t->fd >= 0) {
		close(t->fd);
		/* After QUEUE_COMMIT the outcome is queued's: an abort could only race it. */
		if (!t->committing)
			queue_abort(s->srv, t->qid);
	}
	if (t->spool)
		evbuffer_free(t->spool);
	burl_free(s);
	inbound_free(s);
	memset(t, 0, sizeof *t);
	t->fd = -1;
}

/* Back to "greeted, no transaction". */
static void txn_end(struct session *s)
{
	session_reset_txn(s);
	if (!(s->state & ST_CLOSING))
		s->state = ST_HELO;
}

void txn_fail(struct session *s, const char *reply)
{
	log_info("%s: reject: client=%s from=<%s>: %s", s->tx.qid[0] ? s->tx.qid : "-", s->ip,
		 s->tx.mail.addr, reply);
	session_reply(s, "%s", reply);
	txn_end(s);
}

/* ---- MAIL ---- */

static void mail_refused(struct session *s, enum parse_status st)
{
	switch (st) {
	case P_BAD_ADDR:
		session_reply(s, "501 5.1.7 Bad sender address syntax");
		break;
	case P_UNKNOWN_PARAM:
		session_reply(s, "555 5.5.4 Unsupported MAIL parameter");
		break;
	case P_BAD_PARAM:
		session_reply(s, "501 5.5.4 Bad MAIL parameter value");
		break;
	case P_NEED_UTF8:
		session_reply(s, "553 5.6.7 Non-ASCII address needs SMTPUTF8");
		break;
	default:
		session_reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
	}
	session_error(s);
}

static void mail_accepted(struct session *s)
{
	s->in_txn = true;
	s->state = ST_MAIL;
	session_reply(s, "250 2.1.0 Ok");
}

void cmd_mail(struct session *s, const char *arg)
{
	struct mail_args m;
	if (s->kind != L_SMTP && !s->auth_user && !s->site_peer) {
		session_reply(s, "530 5.7.0 Authentication required");
		session_error(s);
		return;
	}
	enum parse_status st = parse_mail(arg, &m);
	if (st != P_OK) {
		mail_refused(s, st);
		return;
	}
	if (m.requiretls && !s->tls) {
		session_reply(s, "530 5.7.10 REQUIRETLS needs a TLS session (STARTTLS first)");
		session_error(s);
		return;
	}
	if (m.has_size && m.size > s->srv->conf.max_message_size) {
		session_reply(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		return;
	}
	session_reset_txn(s);
	s->tx.mail = m;
	/* Authenticated mail comes from one of the user's own addresses. The null
	 * sender is nobody's and stays allowed, so a satellite host can relay its
	 * bounces through an authenticated submission (as Postfix does). */
	if (s->auth_user && m.addr[0]) {
		s->busy = true;
		policy_sender(s, m.addr);
		return;
	}
	if (inbound_applies(s)) {
		s->busy = true;
		inbound_mail(s);	/* SPF: continues in txn_mail_checked */
		return;
	}
	mail_accepted(s);
}

void txn_mail_checked(struct session *s, const char *reply)
{
	if (reply) {
		session_reply(s, "%s", reply);
		session_reset_txn(s);
	} else {
		mail_accepted(s);
	}
	session_resume(s);
}

void txn_sender_done(struct session *s, bool allowed, bool tempfail)
{
	if (tempfail) {
		session_reply(s, "451 4.3.0 Temporary failure checking the sender, try again later");
	} else if (!allowed) {
		log_info("session %llx: reject: sender <%s> not owned by user %s", (unsigned long long)s->id,
			 s->tx.mail.addr, s->auth_user);
		session_reply(s, "553 5.7.1 Sender address <%s> not owned by user %s", s->tx.mail.addr,
			      s->auth_user);
		session_error(s);
	} else {
		mail_accepted(s);
	}
	session_resume(s);
}

/* ---- RCPT ---- */


void cmd_rcpt(struct session *s, const char *arg)
{
	struct rcpt_args r;
	enum parse_status st = parse_rcpt(arg, s->tx.mail.smtputf8, &r);
	if (st == P_NEED_UTF8) {
		session_reply(s, "553 5.6.7 Non-ASCII address needs SMTPUTF8");
	} else if (st == P_BAD_ADDR) {
		session_reply(s, "501 5.1.3 Bad recipient address syntax");
	} else if (st == P_UNKNOWN_PARAM) {
		session_reply(s, "555 5.5.4 Unsupported RCPT parameter");
	} else if (st == P_BAD_PARAM) {
		session_reply(s, "501 5.5.4 Bad RCPT parameter value");
	} else if (st != P_OK) {
		session_reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
	} else if (s->tx.nrcpt >= s->srv->conf.max_recipients) {
		session_reply(s, "452 4.5.3 Too many recipients");
		return;
	} else {
		/* The session is busy until the answer: at most one lookup in flight. */
		s->tx.pending.addr = xstrdup(r.addr);
		s->tx.pending.notify = r.notify;
		s->tx.pending.orcpt = xstrdup(r.orcpt);
		s->busy = true;
		policy_rcpt(s, r.addr);
		return;
	}
	session_error(s);
}

void txn_rcpt_done(struct session *s, enum rcpt_verdict v)
{
	struct rcpt *r = &s->tx.pending;
	switch (v) {
	case RV_OK:
		s->tx.rcpts = xrealloc(s->tx.rcpts, (s->tx.nrcpt + 1) * sizeof *s->tx.rcpts);
		s->tx.rcpts[s->tx.nrcpt++] = *r;
		memset(r, 0, sizeof *r);
		s->state = ST_RCPT;
		session_reply(s, "250 2.1.5 Ok");
		break;
	case RV_UNKNOWN:
		session_reply(s, "550 5.1.1 <%s>: Recipient address rejected: User unknown", r->addr);
		break;
	case RV_RELAY_DENIED:
		session_reply(s, "554 5.7.1 <%s>: Relay access denied", r->addr);
		break;
	case RV_TEMPFAIL:
		session_reply(s, "451 4.3.0 <%s>: Temporary lookup failure, try again later", r->addr);
		break;
	}
	if (v != RV_OK) {
		log_info("session %llx: reject: RCPT from %s: <%s> %s", (unsigned long long)s->id, s->ip,
			 r->addr, v == RV_UNKNOWN ? "user unknown" : v == RV_RELAY_DENIED ?
			 "relay denied" : "tempfail");
		free(r->addr);
		free(r->orcpt);
		memset(r, 0, sizeof *r);
		if (v != RV_TEMPFAIL)
			session_error(s);
	}
	session_resume(s);
}

/* ---- the message body ---- */

static void spool_flush(struct session *s)
{
	struct txn *t = &s->tx;
	while (!t->write_failed && evbuffer_get_length(t->spool) > 0) {
		int n = evbuffer_write(t->spool, t->fd);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_err("%s: write to spool file failed: %s", t->qid, strerror(errno));
			t->write_failed = true;
		}
	}
}

void txn_spool(struct session *s, const char *p, size_t n)
{
	evbuffer_add(s->tx.spool, p, n);
	if (evbuffer_get_length(s->tx.spool) >= SPOOL_FLUSH)
		spool_flush(s);
}

/* Body bytes go through the header filter (and the DKIM verifier) first. */
static void emit(void *arg, const char *p, size_t n)
{
	inbound_body(arg, p, n);
}

static const char *protocol(const struct session *s)
{
	static const char *const names[2][2][2] = {
		{ { "ESMTP", "ESMTPA" }, { "ESMTPS", "ESMTPSA" } },
		{ { "UTF8SMTP", "UTF8SMTPA" }, { "UTF8SMTPS", "UTF8SMTPSA" } },
	};
	if (!s->esmtp)
		return "SMTP";
	return names[s->tx.mail.smtputf8][s->tls][s->auth_user != NULL];
}

/* Our trace header (RFC 5321 4.4, RFC 3848), written before the data. */
static void write_received(struct session *s)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm);
	struct evbuffer *b = s->tx.spool;
	evbuffer_add_printf(b, "Received: from %s ([%s%s])\r\n", s->helo[0] ? s->helo : "unknown",
			    strchr(s->ip, ':') ? "IPv6:" : "", s->ip);	/* RFC 5321 4.1.3 */
	if (s->tls)
		evbuffer_add_printf(b, "\t(using %s with cipher %s)\r\n", s->tls_version, s->tls_cipher);
	if (s->auth_user && s->srv->conf.add_auth_user_to_received)
		evbuffer_add_printf(b, "\t(Authenticated sender: %s)\r\n", s->auth_user);
	evbuffer_add_printf(b, "\tby %s (tern) with %s id %s", s->srv->hostname, protocol(s), s->tx.qid);
	if (s->tx.nrcpt == 1)
		evbuffer_add_printf(b, "\r\n\tfor <%s>", s->tx.rcpts[0].addr);
	evbuffer_add_printf(b, ";\r\n\t%s\r\n", date);
}

static void body_begin(struct session *s, bool dotted)
{
	const struct smtpd_conf *c = &s->srv->conf;
	s->tx.spool = evbuffer_new();
	data_init(&s->tx.body, dotted, c->max_text_line, c->max_message_size);
	write_received(s);
	inbound_body_begin(s);
}

void cmd_data(struct session *s, const char *arg)
{
	if (*arg) {
		session_reply(s, "501 5.5.4 Syntax: DATA");
		session_error(s);
	} else if (s->tx.nrcpt == 0) {
		session_reply(s, "554 5.5.1 Error: no valid recipients");
		session_error(s);
	} else {
		s->busy = true;
		queue_new(s);
	}
}

static const char *queue_failure(int status)
{
	return status == QS_NOSPACE ? "452 4.3.1 Insufficient system storage" :
	       "451 4.3.0 Queue temporarily unavailable, try again later";
}

void txn_queue_new_done(struct session *s, int status, const char *qid, int fd)
{
	if (s->burl.url) {	/* a BURL began the message: it goes on in burl.c */
		if (status == QS_OK) {
			strlcpy_t(s->tx.qid, qid, sizeof s->tx.qid);
			s->tx.fd = fd;
			body_begin(s, false);
		}
		burl_queue_ready(s, status == QS_OK ? NULL : queue_failure(status));
		return;
	}
	if (status != QS_OK) {
		if (s->tx.bdat) {
			s->chunk.refusal = queue_failure(status);
		} else {
			session_reply(s, "%s", queue_failure(status));
			txn_end(s);
		}
		session_resume(s);
		return;
	}
	strlcpy_t(s->tx.qid, qid, sizeof s->tx.qid);
	s->tx.fd = fd;
	body_begin(s, !s->tx.bdat);
	if (!s->tx.bdat) {
		s->state = ST_DATA;
		session_reply(s, "354 End data with <CR><LF>.<CR><LF>");
	}
	session_resume(s);
}

/* The body is complete: refuse it, or commit it to the queue. */
static void body_end(struct session *s)
{
	struct data_sm *d = &s->tx.body;
	const char *why = NULL;
	char longline[96];
	if (d->errors & (DE_BARE_LF | DE_BARE_CR))
		why = "554 5.6.0 Message refused: bare CR or LF in message (only CRLF line endings)";
	else if (d->errors & DE_TOO_BIG)
		why = "552 5.3.4 Message size exceeds fixed maximum message size";
	else if (d->errors & DE_LONG_LINE)
		why = longline;
	snprintf(longline, sizeof longline, "554 5.6.0 Message refused: line longer than %zu characters",
		 d->max_line);
	if (why) {
		log_info("%s: reject: client=%s from=<%s> size=%llu: %s", s->tx.qid, s->ip,
			 s->tx.mail.addr, (unsigned long long)d->size, why);
		session_reply(s, "%s", why);
		txn_end(s);
		return;
	}
	s->busy = true;
	inbound_end(s);		/* DKIM/DMARC: continues in txn_body_checked */
}

void txn_body_checked(struct session *s, const char *reply)
{
	const char *why = reply;
	if (!why) {
		spool_flush(s);
		if (s->tx.write_failed)
			why = "451 4.3.0 Error writing message to the queue, try again later";
	}
	if (why) {
		log_info("%s: reject: client=%s from=<%s> size=%llu: %s", s->tx.qid, s->ip,
			 s->tx.mail.addr, (unsigned long long)s->tx.body.size, why);
		session_reply(s, "%s", why);
		txn_end(s);
		session_resume(s);
		return;
	}
	s->tx.committing = true;
	queue_commit(s);
}

static void log_message(struct session *s)
{
	char to[1024] = "";
	size_t o = 0;
	for (unsigned i = 0; i < s->tx.nrcpt && o < sizeof to - 1; i++) {
		int n = snprintf(to + o, sizeof to - o, "%s<%s>", i ? "," : "", s->tx.rcpts[i].addr);
		o = n < 0 ? o : o + (size_t)n;
	}
	log_info("%s: client=%s helo=%s tls=%s auth=%s from=<%s> nrcpt=%u to=%s size=%llu "
		 "proto=%s%s%s result=queued", s->tx.qid, s->ip, s->helo, s->tls ? s->tls_version : "no",
		 s->auth_user ? s->auth_user : "-", s->tx.mail.addr, s->tx.nrcpt, to,
		 (unsigned long long)s->tx.body.size, protocol(s), s->tx.bdat ? " bdat" : "",
		 s->tx.mail.requiretls ? " requiretls" : s->tx.tls_optional ? " tls-required=no" : "");
}

void txn_commit_done(struct session *s, int status, const char *qid, const char *text)
{
	if (status == QS_OK) {
		log_message(s);
		s->messages++;
		/* queued owns the file now: do not abort it. */
		close(s->tx.fd);
		s->tx.fd = -1;
		session_reply(s, "250 2.0.0 Ok: queued as %s", s->tx.qid);
	} else if (status == QS_REJECT) {
		log_info("%s: reject by queue: %s", s->tx.qid, text);
		session_reply(s, "554 5.6.0 Message refused: %s", text && *text ? text : "rejected");
	} else {
		log_warn("%s: queue commit failed (status %d): %s", s->tx.qid, status, text ? text : "");
		session_reply(s, "%s", queue_failure(status));
	}
	txn_end(s);
	session_resume(s);
}

/* ---- input of body bytes ---- */

static bool data_input(struct session *s, struct evbuffer *in)
{
	struct evbuffer_iovec v[8];
	int n = evbuffer_peek(in, -1, NULL, v, 8);
	size_t used = 0;
	for (int i = 0; i < n && i < 8 && !s->tx.body.done; i++)
		used += data_feed(&s->tx.body, v[i].iov_base, v[i].iov_len, emit, s);
	evbuffer_drain(in, used);
	if (!s->tx.body.done && s->tx.body.size > s->srv->conf.max_message_size + DATA_SLACK) {
		/* Far past the limit: stop reading (a bandwidth sink otherwise). */
		session_reply(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		txn_end(s);
		session_close(s, "DATA far over the size limit");
		return false;
	}
	if (!s->tx.body.done)
		return used > 0;
	body_end(s);
	return true;
}

static void chunk_done(struct session *s)
{
	struct chunk *c = &s->chunk;
	c->reading = false;
	if (c->refusal) {
		session_reply(s, "%s", c->refusal);
		c->refusal = NULL;
		if (s->in_txn)
			txn_end(s);
		return;
	}
	txn_chunk_end(s, c->last, c->size);
}

void txn_chunk_end(struct session *s, bool last, uint64_t size)
{
	struct data_sm *d = &s->tx.body;
	if (last) {
		data_finish(d, emit, s);
		body_end(s);
	} else if (d->errors) {
		d->done = true;
		body_end(s);
	} else {
		session_reply(s, "250 2.0.0 %llu octets received", (unsigned long long)size);
	}
}

void txn_feed(struct session *s, const char *p, size_t n)
{
	data_feed(&s->tx.body, p, n, emit, s);
}

static bool chunk_input(struct session *s, struct evbuffer *in)
{
	struct chunk *c = &s->chunk;
	while (c->left > 0) {
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			return false;
		size_t n = v.iov_len < c->left ? v.iov_len : (size_t)c->left;
		if (!c->refusal)
			txn_feed(s, v.iov_base, n);
		evbuffer_drain(in, n);
		c->left -= n;
	}
	chunk_done(s);
	return true;
}

bool txn_input(struct session *s, struct evbuffer *in)
{
	if (s->chunk.reading)
		return chunk_input(s, in);
	return data_input(s, in);
}

/* ---- BDAT (RFC 3030) ---- */

void cmd_bdat(struct session *s, const char *arg)
{
	struct chunk *c = &s->chunk;
	memset(c, 0, sizeof *c);
	if (!parse_bdat(arg, &c->size, &c->last)) {
		/* Without a size we cannot tell data from commands: stop here. */
		session_reply(s, "501 5.5.4 Syntax: BDAT size [LAST]");
		session_close(s, "bad BDAT syntax");
		return;
	}
	/* A chunk far beyond the size limit is refused without reading it all (it
	 * would only waste bandwidth); its bytes cannot be told from commands, so
	 * the connection ends there. */
	uint64_t had = s->state == ST_BDAT ? s->tx.body.size : 0;
	uint64_t cap = s->srv->conf.max_message_size + BDAT_SLACK;
	if (c->size > (cap > had ? cap - had : 0)) {
		session_reply(s, "552 5.3.4 Message size exceeds fixed maximum message size");
		memset(c, 0, sizeof *c);
		session_close(s, "BDAT chunk over the size limit");
		return;
	}
	c->left = c->size;
	c->reading = true;
	if (!(s->state & (ST_RCPT | ST_BDAT))) {
		c->refusal = s->state == ST_MAIL ? "554 5.5.1 Error: no valid recipients" :
			     s->state == ST_GREET ? "503 5.5.1 Error: send HELO/EHLO first" :
			     "503 5.5.1 Error: need MAIL and RCPT before BDAT";
		session_error(s);
		return;
	}
	if (s->state == ST_RCPT) {
		s->tx.bdat = true;
		s->state = ST_BDAT;
		s->busy = true;
		queue_new(s);
	}
}
