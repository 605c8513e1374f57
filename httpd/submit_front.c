/* submit_front.c — the front's half of EmailSubmission (see submit.h): one
 * submission per socket the mail process hands over, sender check with
 * authd, then queued on a worker thread; or the delivery status of the
 * user's submissions, asked of queued on a worker thread too. */
#include "httpd/submit.h"
#include "httpd/chan.h"
#include "httpd/front.h"
#include "httpd/proto.h"
#include "common/auth_client.h"
#include "common/auth_proto.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/queue_codec.h"
#include "common/queue_proto.h"
#include "common/queue_submit.h"
#include "common/util.h"
#include "common/workq.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SUBMIT_THREADS 2
#define SUBMIT_WAIT_S 180		/* a whole submission, request to answer */
#define QUEUE_OPEN_WAIT_MS 5000		/* queued restarting */
#define QUEUE_COMMIT_WAIT_MS 120000
#define QUEUE_STATUS_WAIT_MS 10000	/* one status answer */

struct submission {
	char *user, *client;
	struct chan *ch;
	struct event *timer;
	uint32_t auth_id;	/* pending sender check, 0: none */
	bool working, gone;	/* on a worker thread; the socket closed */
	bool bad;		/* a malformed request: close at once */
	/* the request */
	char *sender;
	char **rcpts;
	size_t nrcpt;
	int msgfd;
	size_t len;
	/* the answer */
	uint32_t status;
	char qid[65];
	char text[SUBMIT_TEXT_MAX + 1];
	/* a status request: queue ids, and the answers (STATUS_RES frames) */
	char **qids;
	size_t nqid;
	struct ipc_msg *frames;
};

static struct workq *wq;

void submit_front_init(void)
{
	wq = workq_new(F.base, SUBMIT_THREADS);
}

static void sub_free(struct submission *b)
{
	if (b->auth_id)
		auth_client_cancel(F.auth, b->auth_id);
	chan_free(b->ch);
	event_free(b->timer);
	for (size_t i = 0; i < b->nrcpt; i++)
		free(b->rcpts[i]);
	free(b->rcpts);
	for (size_t i = 0; i < b->nqid; i++) {
		free(b->qids[i]);
		if (b->frames)
			ipc_msg_free(&b->frames[i]);
	}
	free(b->qids);
	free(b->frames);
	if (b->msgfd >= 0)
		close(b->msgfd);
	free(b->sender);
	free(b->user);
	free(b->client);
	free(b);
}

static void answer(struct submission *b, uint32_t status, const char *text)
{
	b->status = status;
	if (text)
		strlcpy_t(b->text, text, sizeof b->text);
	static const char *const what[] = { "queued", "sender-refused", "tempfail", "refused" };
	log_info("http submit: user=%s sender=<%s> nrcpt=%zu result=%s%s%s%s%s", b->user,
		 b->sender ? b->sender : "", b->nrcpt, what[status <= SUBMIT_REJECT ? status : 3],
		 b->qid[0] ? " id=" : "", b->qid, b->text[0] ? ": " : "", b->text);
	struct ipc_msg m;
	ipc_msg_init(&m, SUBMIT_RES, 1);
	ipc_put_u32(&m, b->status);
	ipc_put_str(&m, b->qid);
	ipc_put_str(&m, b->text);
	chan_send(b->ch, &m);
	/* the mail process closes its end once it has the answer (on_close) */
}

/* Our trace header (RFC 5321 4.4) above the message. */
static void write_received(struct submission *b, FILE *f)
{
	char date[64];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm);
	/* "with JMAP": no registered protocol name says it (RFC 3848 has SMTP's) */
	fprintf(f, "Received: from [%s%s]\r\n\tby %s (tern) with JMAP id %s",
		strchr(b->client, ':') ? "IPv6:" : "", b->client, F.host, b->qid);
	if (b->nrcpt == 1)
		fprintf(f, "\r\n\tfor <%s>", b->rcpts[0]);
	fprintf(f, ";\r\n\t%s\r\n", date);
}

static bool has_8bit(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)p[i] & 0x80)
			return true;
	return false;
}

/* Copy the message after our header into the spool file; *eight_bit
 * when it has 8-bit octets (marked as smtpd marks such data). */
static int write_spool(struct submission *b, int spool, bool *eight_bit)
{
	char hdr[1024];
	FILE *f = fmemopen(hdr, sizeof hdr, "w");
	if (!f)
		return -1;
	write_received(b, f);
	long n = ftell(f);
	fclose(f);
	if (n <= 0 || (size_t)n >= sizeof hdr || write_all(spool, hdr, (size_t)n) < 0)
		return -1;
	char buf[65536];
	*eight_bit = false;
	for (off_t off = 0; (size_t)off < b->len;) {
		ssize_t r = pread(b->msgfd, buf, sizeof buf, off);
		if (r <= 0 || write_all(spool, buf, (size_t)r) < 0)
			return -1;
		*eight_bit = *eight_bit || has_8bit(buf, (size_t)r);
		off += r;
	}
	return 0;
}

/* The queue flags of the message: authenticated, and what it carries. */
static uint32_t queue_flags(const struct submission *b, bool eight_bit)
{
	uint32_t f = QF_AUTH | (eight_bit ? QF_8BITMIME : 0);
	bool utf8 = has_8bit(b->sender, strlen(b->sender));
	for (size_t i = 0; i < b->nrcpt; i++)
		utf8 = utf8 || has_8bit(b->rcpts[i], strlen(b->rcpts[i]));
	return f | (utf8 ? QF_SMTPUTF8 : 0);
}

/* On a worker thread: touches only b's request and answer fields. */
static void enqueue_work(void *arg)
{
	struct submission *b = arg;
	char err[256] = "";
	struct queue_submission q;
	bool eight_bit = false;
	char *path = xasprintf("%s/queue.sock", F.run_prefix);
	uint32_t st = queue_submit_open(path, QUEUE_OPEN_WAIT_MS, &q, err, sizeof err);
	free(path);
	if (st == QS_OK) {
		strlcpy_t(b->qid, q.qid, sizeof b->qid);
		if (write_spool(b, q.fd, &eight_bit) < 0) {
			queue_submit_abort(&q);
			st = QS_TEMPFAIL;
			snprintf(err, sizeof err, "cannot write the message to the queue");
		}
	}
	if (st == QS_OK) {
		char client[160];
		snprintf(client, sizeof client, "jmap [%s]", b->client);
		struct queue_envelope env = {
			.sender = b->sender, .flags = queue_flags(b, eight_bit), .client = client,
			.auth_user = b->user, .nrcpt = b->nrcpt, .rcpts = (const char *const *)b->rcpts,
		};
		st = queue_submit_commit(&q, &env, QUEUE_COMMIT_WAIT_MS, err, sizeof err);
	}
	if (st != QS_OK)
		b->qid[0] = '\0';
	b->status = st == QS_OK ? SUBMIT_OK : st == QS_REJECT ? SUBMIT_REJECT : SUBMIT_TEMPFAIL;
	strlcpy_t(b->text, err, sizeof b->text);
}

/* Back from a worker thread: true when the socket closed meanwhile (b is
 * then freed). */
static bool work_over(struct submission *b)
{
	bool gone = b->gone;
	b->working = false;
	if (gone)
		sub_free(b);
	return gone;
}

static void enqueue_done(void *arg)
{
	struct submission *b = arg;
	if (!work_over(b))
		answer(b, b->status, NULL);
}

static void on_sender(const struct auth_reply *r, void *arg)
{
	struct submission *b = arg;
	b->auth_id = 0;
	if (r->tempfail) {
		answer(b, SUBMIT_TEMPFAIL, "the auth service cannot be reached");
		return;
	}
	if (r->result != 1) {
		answer(b, SUBMIT_SENDER, "the sender is not one of the user's addresses");
		return;
	}
	b->working = true;
	workq_submit(wq, enqueue_work, enqueue_done, b);
}

/* SUBMIT_REQ: the envelope and the message (memfd). false when malformed. */
static bool read_request(struct submission *b, struct ipc_msg *m)
{
	const char *sender = ipc_get_str(m, SUBMIT_ADDR_MAX);
	uint32_t n = ipc_get_u32(m);
	if (m->bad || n == 0 || n > QUEUE_MAX_RCPTS)
		return false;
	b->sender = xstrdup(sender);
	b->rcpts = xcalloc(n, sizeof *b->rcpts);
	for (; b->nrcpt < n; b->nrcpt++) {
		const char *r = ipc_get_str(m, SUBMIT_ADDR_MAX);
		if (m->bad || !*r)
			return false;
		b->rcpts[b->nrcpt] = xstrdup(r);
	}
	uint64_t len = ipc_get_u64(m);
	b->msgfd = ipc_take_fd(m);
	if (!ipc_end(m) || b->msgfd < 0 || len > F.lim.max_size_upload)
		return false;
	b->len = (size_t)len;
	return true;
}

static void on_addresses(const struct auth_reply *r, void *arg)
{
	struct submission *b = arg;
	b->auth_id = 0;
	bool ok = !r->tempfail && r->naddr > 0;
	if (!ok)
		log_err("http addresses: user=%s: %s", b->user,
			r->tempfail ? "the auth service cannot answer" : "not a user");
	struct ipc_msg m;
	ipc_msg_init(&m, ADDRS_RES, 1);
	ipc_put_u32(&m, ok ? SUBMIT_OK : SUBMIT_TEMPFAIL);
	ipc_put_u32(&m, ok ? (uint32_t)r->naddr : 0);
	for (size_t i = 0; ok && i < r->naddr; i++)
		ipc_put_str(&m, r->addrs[i]);
	chan_send(b->ch, &m);
}

/* One QUEUE_STATUS_REQ on sock for qid as the channel's user, its answer
 * (checked with the codec) copied into out; QS_TEMPFAIL in out when queued
 * does not answer well. false: the connection is no longer usable. */
static bool ask_status(int sock, const char *user, const char *qid, struct ipc_msg *out)
{
	struct ipc_msg q;
	ipc_msg_init(&q, QUEUE_STATUS_REQ, 1);
	queue_status_req_put(&q, qid, user);
	int sent = sock < 0 ? -1 : ipc_send(sock, &q);
	ipc_msg_free(&q);
	uint32_t st = QS_TEMPFAIL, n = 0;
	struct queue_rcpt_status *r = NULL;
	bool got = sent == 0 && ipc_recv(sock, &q, QUEUE_STATUS_WAIT_MS) == 0;
	if (got) {
		r = q.hdr.type == QUEUE_STATUS_RES ? queue_status_res_get(&q, &st, &n) : NULL;
		if (!r || st == QS_TEMPFAIL)
			st = QS_TEMPFAIL, n = 0;
	}
	queue_status_res_put(out, st, n);
	for (uint32_t i = 0; i < n; i++)
		queue_status_res_put_one(out, &r[i]);
	free(r);
	if (got)
		ipc_msg_free(&q);
	return got && st != QS_TEMPFAIL;
}

/* On a worker thread: one connection to queued for all the ids asked. */
static void status_work(void *arg)
{
	struct submission *b = arg;
	char *path = xasprintf("%s/queue.sock", F.run_prefix);
	int sock = ipc_connect(path);
	free(path);
	for (size_t i = 0; i < b->nqid; i++) {
		if (!ask_status(sock, b->user, b->qids[i], &b->frames[i]) && sock >= 0) {
			close(sock);
			sock = -1;
		}
	}
	if (sock >= 0)
		close(sock);
}

static void status_done(void *arg)
{
	struct submission *b = arg;
	if (work_over(b))
		return;
	log_info("http status: user=%s asked=%zu", b->user, b->nqid);
	for (size_t i = 0; i < b->nqid; i++)
		chan_send(b->ch, &b->frames[i]);
	free(b->frames);
	b->frames = NULL;
}

/* STATUS_REQ: the queue ids. false when malformed. */
static bool read_status_request(struct submission *b, struct ipc_msg *m)
{
	uint32_t n = ipc_get_u32(m);
	if (m->bad || n == 0 || n > SUBMIT_STATUS_MAX)
		return false;
	b->qids = xcalloc(n, sizeof *b->qids);
	for (; b->nqid < n; b->nqid++) {
		const char *q = ipc_get_str(m, QUEUE_ID_LEN);
		if (m->bad || !queue_id_valid(q))
			return false;
		b->qids[b->nqid] = xstrdup(q);
	}
	if (!ipc_end(m))
		return false;
	b->frames = xcalloc(n, sizeof *b->frames);
	for (size_t i = 0; i < n; i++)
		ipc_msg_init(&b->frames[i], STATUS_RES, 1);
	return true;
}

static void on_msg(struct chan *c, struct ipc_msg *m, void *arg)
{
	struct submission *b = arg;
	if (m->hdr.type == STATUS_REQ && !b->sender && !b->nqid) {
		b->sender = xstrdup("");	/* one request per socket */
		if (!read_status_request(b, m)) {
			log_err("http status: malformed request from the mail process of %s", b->user);
			b->bad = true;	/* closed from the timer: not inside on_msg */
			event_active(b->timer, EV_TIMEOUT, 0);
			return;
		}
		b->working = true;
		workq_submit(wq, status_work, status_done, b);
		return;
	}
	if (m->hdr.type == ADDRS_REQ && !b->sender && !b->auth_id && ipc_end(m)) {
		b->sender = xstrdup("");	/* one request per socket */
		b->auth_id = auth_client_addresses(F.auth, b->user, on_addresses, b);
		return;
	}
	if (m->hdr.type != SUBMIT_REQ || b->sender || !read_request(b, m)) {
		log_err("http submit: malformed request from the mail process of %s", b->user);
		if (!b->sender)
			b->sender = xstrdup("");
		answer(b, SUBMIT_REJECT, "malformed submission");
		return;
	}
	b->auth_id = auth_client_sender(F.auth, b->user, b->sender, on_sender, b);
}

static void on_close(struct chan *c, const char *why, void *arg)
{
	struct submission *b = arg;
	b->gone = true;
	if (!b->working)
		sub_free(b);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct submission *b = arg;
	if (!b->bad)
		log_warn("http submit: user=%s: no end after %d s; closed", b->user, SUBMIT_WAIT_S);
	b->gone = true;
	if (!b->working)
		sub_free(b);
}

void submit_front_start(const char *user, const char *client, int fd)
{
	struct submission *b = xcalloc(1, sizeof *b);
	b->user = xstrdup(user);
	b->client = xstrdup(client);
	b->msgfd = -1;
	b->ch = chan_new(F.base, fd, on_msg, on_close, b);
	b->timer = evtimer_new(F.base, on_timeout, b);
	struct timeval tv = { SUBMIT_WAIT_S, 0 };
	evtimer_add(b->timer, &tv);
}
