/* submit_client.c — the mail process's half of EmailSubmission (see
 * submit.h): a socketpair for one message, handed to the front over the
 * channel, then a blocking request and answer on it. The API request that
 * submits waits; other requests wait on the channel meanwhile, as they wait
 * behind any method call. */
#include "httpd/submit.h"
#include "httpd/chan.h"
#include "httpd/proto.h"
#include "httpd/sess.h"
#include "common/auth_proto.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/queue_codec.h"
#include "common/queue_proto.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HANDOVER_WAIT_MS 10000
#define ANSWER_WAIT_MS 200000	/* longer than the front's own limits */

static void fail(struct submit_result *r, uint32_t status, const char *text)
{
	r->status = status;
	r->qid[0] = '\0';
	strlcpy_t(r->text, text, sizeof r->text);
}

/* Give the front one end of a new socketpair; the other, or -1. */
static int hand_over(struct sess *s)
{
	int sp[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0)
		return -1;
	struct ipc_msg m;
	ipc_msg_init(&m, HTTP_SUBMIT, 0);
	ipc_put_fd(&m, sp[1]);
	chan_send(s->ch, &m);
	if (chan_flush_wait(s->ch, HANDOVER_WAIT_MS) < 0) {
		close(sp[0]);
		return -1;
	}
	return sp[0];
}

static bool read_answer(int sock, struct submit_result *r)
{
	struct ipc_msg m;
	if (ipc_recv(sock, &m, ANSWER_WAIT_MS) < 0)
		return false;
	bool ok = m.hdr.type == SUBMIT_RES;
	r->status = ipc_get_u32(&m);
	ok = ok && ipc_get_strbuf(&m, r->qid, sizeof r->qid);
	ok = ok && ipc_get_strbuf(&m, r->text, sizeof r->text);
	ok = ok && ipc_end(&m) && r->status <= SUBMIT_REJECT;
	ipc_msg_free(&m);
	return ok;
}

static json_t *read_addresses(int sock)
{
	struct ipc_msg m;
	if (ipc_recv(sock, &m, ANSWER_WAIT_MS) < 0)
		return NULL;
	uint32_t st = ipc_get_u32(&m), n = ipc_get_u32(&m);
	json_t *out = json_array();
	bool ok = m.hdr.type == ADDRS_RES && st == SUBMIT_OK && n && n <= AUTH_MAX_ADDRESSES;
	for (uint32_t i = 0; ok && i < n; i++) {
		const char *a = ipc_get_str(&m, SUBMIT_ADDR_MAX);
		ok = !m.bad && *a;
		if (ok)
			json_array_append_new(out, json_string(a));
	}
	ok = ok && ipc_end(&m);
	ipc_msg_free(&m);
	if (!ok)
		json_decref(out);
	return ok ? out : NULL;
}

json_t *submit_addresses(struct sess *s)
{
	int sock = hand_over(s);
	if (sock < 0)
		return NULL;
	struct ipc_msg m;
	ipc_msg_init(&m, ADDRS_REQ, 1);
	int sent = ipc_send(sock, &m);
	ipc_msg_free(&m);
	json_t *out = sent < 0 ? NULL : read_addresses(sock);
	if (!out)
		log_err("http session: user=%s: no list of addresses from the front", s->user);
	close(sock);
	return out;
}

void submit_message(struct sess *s, const char *sender, const char *const *rcpts, size_t n,
		    int fd, size_t len, struct submit_result *r)
{
	int sock = hand_over(s);
	if (sock < 0) {
		close(fd);
		fail(r, SUBMIT_TEMPFAIL, "the front cannot be reached");
		return;
	}
	struct ipc_msg m;
	ipc_msg_init(&m, SUBMIT_REQ, 1);
	ipc_put_str(&m, sender);
	ipc_put_u32(&m, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		ipc_put_str(&m, rcpts[i]);
	ipc_put_u64(&m, len);
	ipc_put_fd(&m, fd);
	int sent = ipc_send(sock, &m);
	ipc_msg_free(&m);
	if (sent < 0 || !read_answer(sock, r)) {
		log_err("http session: user=%s: no answer to a submission from the front", s->user);
		fail(r, SUBMIT_TEMPFAIL, "no answer from the front: the message may or may not be queued");
	}
	close(sock);
}

/* RFC 8621 7 smtpReply: the peer's own reply when the text quotes one
 * ("host ... said: 550 5.1.1 ..."), else the synthetic form "CODE X.Y.Z
 * text"; printable ASCII only (a reply is ASCII; the rest is not trusted to
 * be UTF-8). */
static json_t *smtp_reply(const struct queue_rcpt_status *r)
{
	const char *said = strstr(r->text, " said: ");
	char buf[SUBMIT_TEXT_MAX + 1];
	if (said && said[7] >= '2' && said[7] <= '5' && strspn(said + 7, "0123456789") == 3 &&
	    said[10] == ' ') {
		snprintf(buf, sizeof buf, "%s", said + 7);
	} else {
		char cls = r->status[0] ? r->status[0] : '2';
		const char *code = cls == '5' ? "550" : cls == '4' ? "451" : "250";
		const char *text = *r->text ? r->text
				   : r->delivered == QD_QUEUED ? "queued, not yet tried" : "done";
		snprintf(buf, sizeof buf, "%s %s %s", code, r->status[0] ? r->status : "2.0.0",
			 text);
	}
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f)
			*p = '?';
	return json_string(buf);
}

/* One STATUS_RES frame as a DeliveryStatus map, null or false. */
static json_t *read_one_status(int sock)
{
	static const char *const words[] = { "queued", "yes", "no", "unknown" };
	struct ipc_msg m;
	if (ipc_recv(sock, &m, ANSWER_WAIT_MS) < 0)
		return NULL;
	uint32_t st, n;
	struct queue_rcpt_status *r = m.hdr.type == STATUS_RES ? queue_status_res_get(&m, &st, &n)
				      : NULL;
	json_t *out = !r ? NULL : st == QS_OK ? json_object()
		      : st == QS_NOTFOUND ? json_null() : json_false();
	for (uint32_t i = 0; r && st == QS_OK && i < n; i++)
		json_object_set_new(out, r[i].addr,
				    json_pack("{s:o, s:s, s:s}", "smtpReply", smtp_reply(&r[i]),
					      "delivered", words[r[i].delivered],
					      "displayed", "unknown"));
	free(r);
	ipc_msg_free(&m);
	return out;
}

json_t *submit_status(struct sess *s, const char *const *qids, size_t n)
{
	int sock = hand_over(s);
	if (sock < 0)
		return NULL;
	struct ipc_msg m;
	ipc_msg_init(&m, STATUS_REQ, 1);
	ipc_put_u32(&m, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		ipc_put_str(&m, qids[i]);
	json_t *out = ipc_send(sock, &m) < 0 ? NULL : json_array();
	ipc_msg_free(&m);
	for (size_t i = 0; out && i < n; i++) {
		json_t *one = read_one_status(sock);
		if (!one) {
			json_decref(out);
			out = NULL;
		} else {
			json_array_append_new(out, one);
		}
	}
	if (!out)
		log_err("http session: user=%s: no delivery status from the front", s->user);
	close(sock);
	return out;
}
