/* vacation.c — RFC 3834 auto-replies of the local agent (see vacation.h). */
#include "deliverd/vacation.h"
#include "deliverd/maildir.h"
#include "common/log.h"
#include "common/maildate.h"
#include "common/mime.h"
#include "common/queue_proto.h"
#include "common/queue_submit.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "common/vacation.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define HEAD_MAX 65536		/* a header longer than this gets no reply */
#define ADDR_MAX 512
#define QUEUE_WAIT_MS 30000
#define COMMIT_WAIT_MS 120000
#define DEFAULT_TEXT "I am away and will read your message when I am back.\r\n"

/* The header of the message (CRLF), or NULL when it does not end within
 * HEAD_MAX bytes. */
static char *read_head(int fd, uint64_t size, size_t *len)
{
	size_t n = size < HEAD_MAX ? (size_t)size : HEAD_MAX;
	char *buf = xmalloc(n + 1);
	ssize_t got = pread(fd, buf, n, 0);
	char *end = got > 0 ? memmem(buf, (size_t)got, "\r\n\r\n", 4) : NULL;
	if (!end) {
		free(buf);
		return NULL;
	}
	*len = (size_t)(end - buf) + 2;
	buf[*len] = '\0';
	return buf;
}

/* Addresses that are lists or daemons by name (RFC 3834 2, common practice). */
static bool robot_sender(const char *addr)
{
	static const char *const names[] = { "mailer-daemon", "listserv", "majordomo",
					     "noreply", "no-reply", "postmaster", NULL };
	const char *at = strrchr(addr, '@');
	size_t n = at ? (size_t)(at - addr) : strlen(addr);
	for (const char *const *p = names; *p; p++)
		if (n == strlen(*p) && !strncasecmp(addr, *p, n))
			return true;
	return !strncasecmp(addr, "owner-", 6) || (n > 8 && !strncasecmp(addr + n - 8, "-request", 8));
}

static int list_field(const char *name, const char *value, void *arg)
{
	return !strncasecmp(name, "List-", 5);
}

/* Why the message must not be answered, from its header, or NULL. */
static const char *automatic(const char *head, size_t len)
{
	char *as = mime_header_get(head, len, "Auto-Submitted");
	char *prec = mime_header_get(head, len, "Precedence");
	const char *why = NULL;
	if (as && strcasecmp(str_trim(as), "no") && strncasecmp(str_trim(as), "no ", 3) &&
	    strncasecmp(str_trim(as), "no;", 3))
		why = "Auto-Submitted";
	else if (prec && (!strcasecmp(str_trim(prec), "bulk") || !strcasecmp(str_trim(prec), "list") ||
			  !strcasecmp(str_trim(prec), "junk")))
		why = "Precedence";
	else if (mime_header_each(head, len, list_field, NULL))
		why = "a List- field";
	free(as);
	free(prec);
	return why;
}

/* Unstructured text in a header field (common/mime_encode.c). */
static void header_text(struct strbuf *b, const char *s)
{
	char *t = mime_header_text(s);
	strbuf_adds(b, t);
	free(t);
}

/* A body part: its Content-Type and the text in base64 lines. */
static void part(struct strbuf *b, const char *type, const char *text)
{
	char *h = xasprintf("Content-Type: %s; charset=utf-8\r\n"
			    "Content-Transfer-Encoding: base64\r\n\r\n", type);
	strbuf_adds(b, h);
	free(h);
	size_t n = strlen(text);
	for (size_t i = 0; i < n; i += 57) {
		unsigned char line[80];
		int len = EVP_EncodeBlock(line, (const unsigned char *)text + i,
					  (int)(n - i > 57 ? 57 : n - i));
		strbuf_add(b, (const char *)line, (size_t)len);
		strbuf_add(b, "\r\n", 2);
	}
}

static void field(struct strbuf *b, const char *name, const char *value)
{
	strbuf_adds(b, name);
	strbuf_add(b, ": ", 2);
	strbuf_adds(b, value);
	strbuf_add(b, "\r\n", 2);
}

/* The reply (CRLF), malloc'd into b. */
static void compose(const struct vacation_in *in, const struct vacation *v, const char *head,
		    size_t hlen, struct strbuf *b)
{
	char date[40], *msgid = mime_header_get(head, hlen, "Message-ID");
	char *refs = mime_header_get(head, hlen, "References");
	char *subj = mime_header_get(head, hlen, "Subject");
	maildate_rfc5322((int64_t)time(NULL), 0, date);
	char *id = xasprintf("<%s.vacation.%lld@%s>", in->qid, (long long)time(NULL), in->hostname);
	field(b, "From", in->mailbox);
	field(b, "To", in->sender);
	strbuf_add(b, "Subject: ", 9);
	char *auto_subj = NULL;
	if (!v->subject) {
		char *dec = subj ? mime_decode_words(str_trim(subj)) : NULL;
		auto_subj = xasprintf("Auto: %s", dec && *dec ? dec : "your message");
		free(dec);
	}
	header_text(b, v->subject ? v->subject : auto_subj);
	strbuf_add(b, "\r\n", 2);
	field(b, "Date", date);
	field(b, "Message-ID", id);
	const char *mid = msgid ? str_trim(msgid) : "", *rf = refs ? str_trim(refs) : "";
	if (*mid) {
		/* the thread's older ids only while the field stays short */
		bool all = strlen(rf) + strlen(mid) < 900;
		char *r = xasprintf("%s%s%s", all ? rf : "", all && *rf ? " " : "", mid);
		field(b, "In-Reply-To", mid);
		field(b, "References", r);
		free(r);
	}
	field(b, "Auto-Submitted", "auto-replied");
	field(b, "MIME-Version", "1.0");
	const char *text = v->text ? v->text : v->html ? NULL : DEFAULT_TEXT;
	if (text && v->html) {
		const char *bd = "=_tern-vacation-alt";
		char *ct = xasprintf("multipart/alternative; boundary=\"%s\"", bd);
		char *mid = xasprintf("\r\n--%s\r\n", bd), *end = xasprintf("--%s--\r\n", bd);
		field(b, "Content-Type", ct);
		strbuf_adds(b, mid);
		part(b, "text/plain", text);
		strbuf_adds(b, mid + 2);
		part(b, "text/html", v->html);
		strbuf_adds(b, end);
		free(ct);
		free(mid);
		free(end);
	} else {
		part(b, text ? "text/plain" : "text/html", text ? text : v->html);
	}
	free(auto_subj);
	free(id);
	free(msgid);
	free(refs);
	free(subj);
}

static void submit(const struct vacation_in *in, const struct strbuf *msg)
{
	char err[512];
	struct queue_submission qs;
	uint32_t st = queue_submit_open(in->queue_sock, QUEUE_WAIT_MS, &qs, err, sizeof err);
	if (st == QS_OK && write_all(qs.fd, msg->p, msg->len) < 0) {
		snprintf(err, sizeof err, "writing the reply failed: %s", strerror(errno));
		queue_submit_abort(&qs);
		st = QS_TEMPFAIL;
	} else if (st == QS_OK) {
		char *client = xasprintf("vacation reply of %s", in->mailbox);
		const char *rcpt[] = { in->sender };
		/* RFC 3834 3.3: from the null sender, so nothing answers it */
		const struct queue_envelope env = { .sender = "", .flags = 0,
						    .client = client, .nrcpt = 1, .rcpts = rcpt };
		st = queue_submit_commit(&qs, &env, COMMIT_WAIT_MS, err, sizeof err);
		free(client);
	}
	if (st == QS_OK)
		log_info("%s: vacation reply from <%s> to <%s> queued as %s", in->qid, in->mailbox,
			 in->sender, qs.qid);
	else
		log_warn("%s: vacation reply from <%s> to <%s> not sent: %s", in->qid, in->mailbox,
			 in->sender, err);
}

void vacation_reply(const struct vacation_in *in)
{
	const char *at = strrchr(in->mailbox, '@');
	if (!*in->sender || (in->flags & (QF_BOUNCE | QF_QUARANTINE)) || !at ||
	    strlen(in->sender) > ADDR_MAX || !strcasecmp(in->sender, in->mailbox))
		return;
	char *local = xstrndup(in->mailbox, (size_t)(at - in->mailbox));
	char *base = xasprintf("%s/%s/%s", in->mail_dir, at + 1, local);
	free(local);
	struct vacation v;
	size_t hlen = 0;
	char *head = NULL;
	const char *why = NULL;
	if (vacation_active(base, time(NULL), &v)) {
		head = read_head(in->fd, in->size, &hlen);
		why = !head ? "header too long" : robot_sender(in->sender) ? "list or daemon address"
			: automatic(head, hlen);
		if (!why && vacation_sent_check(base, in->sender, time(NULL)))
			why = "answered within the period";
		if (why) {
			log_info("%s: no vacation reply from <%s> to <%s>: %s", in->qid, in->mailbox,
				 in->sender, why);
		} else {
			struct strbuf msg = { 0 };
			compose(in, &v, head, hlen, &msg);
			submit(in, &msg);
			free(msg.p);
		}
		vacation_free(&v);
	}
	free(head);
	free(base);
}
