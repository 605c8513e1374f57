/* dsn.c — build RFC 3464 DSN messages. */
#include "queued/dsn.h"
#include "common/queue_proto.h"
#include "common/strbuf.h"
#include "common/util.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void __attribute__((format(printf, 2, 3))) sb_printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s;
	if (vasprintf(&s, fmt, ap) < 0)
		fatal("out of memory");
	va_end(ap);
	strbuf_adds(b, s);
	free(s);
}

static void rfc5322_date(time_t t, char *out, size_t n)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, n, "%a, %d %b %Y %H:%M:%S +0000", &tm);
}

size_t dsn_header_len(const char *msg, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (msg[i] != '\n')
			continue;
		if (msg[i + 1] == '\n')
			return i + 2;
		if (msg[i + 1] == '\r' && i + 2 < len && msg[i + 2] == '\n')
			return i + 3;
	}
	return len;
}

/* Text safe inside a header field: no CR/LF, printable ASCII only. */
static char *field_safe(const char *s)
{
	char *o = xstrdup(s);
	for (char *p = o; *p; p++)
		if ((unsigned char)*p < 32 || (unsigned char)*p > 126)
			*p = ' ';
	return o;
}

/* envid and orcpt travel xtext-encoded as received (RFC 3461 4); the report
 * carries them decoded (RFC 3464 2.2.1, 2.3.1), then made header-safe. */
static char *xtext_decoded(const char *s)
{
	char *o = xmalloc(strlen(s) + 1), *q = o;
	for (const char *p = s; *p; p++) {
		if (*p == '+' && isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])) {
			char hex[3] = { p[1], p[2], 0 };
			*q++ = (char)strtol(hex, NULL, 16);
			p += 2;
		} else {
			*q++ = *p;
		}
	}
	*q = 0;
	char *safe = field_safe(o);
	free(o);
	return safe;
}

/* Diagnostic text from an agent is either an SMTP reply ("550 5.1.1 ...") or ours. */
static void diag(struct strbuf *b, const char *reason)
{
	char *r = field_safe(reason);
	bool smtp = strlen(r) > 4 && r[0] >= '2' && r[0] <= '5' && r[1] >= '0' && r[1] <= '9' &&
		    r[2] >= '0' && r[2] <= '9' && r[3] == ' ';
	sb_printf(b, "Diagnostic-Code: %s; %s\r\n", smtp ? "smtp" : "x-tern", r);
	free(r);
}

static const struct {
	const char *subject, *action, *tag, *intro, *default_status;
} kinds[] = {
	[DSN_FAILED] = { "Undelivered Mail Returned to Sender", "failed", "failed",
			 "I'm sorry to have to inform you that your message could not\r\n"
			 "be delivered to one or more recipients. The details are below.\r\n", "5.0.0" },
	[DSN_DELAYED] = { "Delayed Mail (still being retried)", "delayed", "delayed",
			  "Your message could not be delivered yet to one or more recipients.\r\n"
			  "The mail system will keep trying; you do not need to resend it.\r\n", "4.0.0" },
	[DSN_DELIVERED] = { "Successful Mail Delivery Report", "delivered", "delivered",
			    "Your message was delivered to the recipients below, as you asked\r\n"
			    "to be told (NOTIFY=SUCCESS).\r\n", "2.0.0" },
};

static void human_part(struct strbuf *b, const struct dsn_input *in)
{
	const struct qmsg *m = in->m;
	sb_printf(b, "Content-Type: text/plain; charset=us-ascii\r\n"
		     "Content-Description: Notification\r\n\r\n"
		     "This is the mail system at host %s.\r\n\r\n", in->hostname);
	sb_printf(b, "%s\r\n", kinds[in->kind].intro);
	for (uint32_t k = 0; k < in->nrcpt; k++) {
		const struct qrcpt *r = &m->rcpt[in->rcpts[k]];
		char *a = field_safe(r->addr), *t = field_safe(r->reason);
		sb_printf(b, "<%s>: %s\r\n", a, t);
		free(a);
		free(t);
	}
	strbuf_add(b, "\r\n", 2);
}

static void status_part(struct strbuf *b, const struct dsn_input *in)
{
	const struct qmsg *m = in->m;
	char date[64];
	sb_printf(b, "Content-Type: message/delivery-status\r\n"
		     "Content-Description: Delivery report\r\n\r\n"
		     "Reporting-MTA: dns; %s\r\nX-Tern-Queue-ID: %s\r\n", in->hostname, m->id);
	if (*m->envid) {
		char *e = xtext_decoded(m->envid);
		sb_printf(b, "Original-Envelope-Id: %s\r\n", e);
		free(e);
	}
	rfc5322_date((time_t)m->arrival, date, sizeof date);
	sb_printf(b, "Arrival-Date: %s\r\n", date);
	rfc5322_date(in->now, date, sizeof date);
	for (uint32_t k = 0; k < in->nrcpt; k++) {
		const struct qrcpt *r = &m->rcpt[in->rcpts[k]];
		char *a = field_safe(r->addr);
		sb_printf(b, "\r\nFinal-Recipient: rfc822; %s\r\n", a);
		free(a);
		if (*r->orcpt) {
			char *o = xtext_decoded(r->orcpt);
			/* orcpt arrives as "addr-type;address" (RFC 3461) */
			sb_printf(b, "Original-Recipient: %s%s\r\n", strchr(o, ';') ? "" : "rfc822;", o);
			free(o);
		}
		const char *want = kinds[in->kind].default_status;
		/* The class must fit the action: a failure is 5.x.x, or 4.x.x when the
		 * queue lifetime ran out; a delay 4.x.x; a delivery 2.x.x. */
		bool fits = *r->status && (r->status[0] == want[0] ||
					   (in->kind == DSN_FAILED && r->status[0] == '4'));
		char *st = field_safe(fits ? r->status : want);
		sb_printf(b, "Action: %s\r\nStatus: %s\r\n", kinds[in->kind].action, st);
		free(st);
		if (*r->reason)
			diag(b, r->reason);
		sb_printf(b, "Last-Attempt-Date: %s\r\n", date);
		if (in->kind == DSN_DELAYED && r->next_attempt) {
			char next[64];
			rfc5322_date((time_t)r->next_attempt, next, sizeof next);
			sb_printf(b, "Will-Retry-Until: %s\r\n", next);
		}
	}
	strbuf_add(b, "\r\n", 2);
}

char *dsn_build(const struct dsn_input *in, size_t *len)
{
	struct strbuf b = { 0 };
	const struct qmsg *m = in->m;
	char date[64], boundary[80];
	rfc5322_date(in->now, date, sizeof date);
	snprintf(boundary, sizeof boundary, "%s.%lld/%s", m->id, (long long)in->now, in->hostname);
	char *to = field_safe(m->sender);
	sb_printf(&b, "From: Mail Delivery System <MAILER-DAEMON@%s>\r\n"
		      "To: <%s>\r\nSubject: %s\r\nDate: %s\r\n"
		      "Message-ID: <%s.%s.%lld@%s>\r\n"
		      "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
		      "Content-Type: multipart/report; report-type=delivery-status;\r\n"
		      "\tboundary=\"%s\"\r\n\r\n"
		      "This is a MIME-encapsulated message.\r\n\r\n--%s\r\n",
		  in->hostname, to, kinds[in->kind].subject,
		  date, m->id, kinds[in->kind].tag, (long long)in->now,
		  in->hostname, boundary, boundary);
	free(to);
	human_part(&b, in);
	sb_printf(&b, "--%s\r\n", boundary);
	status_part(&b, in);
	sb_printf(&b, "--%s\r\n", boundary);
	size_t hl = dsn_header_len(in->original, in->original_len);
	if (in->full && in->original_len) {
		sb_printf(&b, "Content-Type: message/rfc822\r\nContent-Description: Undelivered Message\r\n\r\n");
		strbuf_add(&b, in->original, in->original_len);
		if (in->original_len < 2 || memcmp(in->original + in->original_len - 2, "\r\n", 2))
			strbuf_add(&b, "\r\n", 2);
	} else {
		sb_printf(&b, "Content-Type: text/rfc822-headers\r\n"
			      "Content-Description: Undelivered Message Headers\r\n\r\n");
		strbuf_add(&b, in->original, hl);
		if (hl < 2 || memcmp(in->original + hl - 2, "\r\n", 2))
			strbuf_add(&b, "\r\n", 2);
	}
	sb_printf(&b, "\r\n--%s--\r\n", boundary);
	*len = b.len;
	return b.p;
}
