/* Unit tests: RFC 3464 DSN formatting. */
#include "queued/dsn.h"
#include "common/queue_proto.h"
#include "common/util.h"
#include "tests/unit/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *orig = "Received: by mx\r\nSubject: hello\r\nFrom: bob@example.test\r\n"
			  "\r\nbody line\r\n";

static void make(struct qmsg *m)
{
	memset(m, 0, sizeof *m);
	strcpy(m->id, "65A1B2C3D4E5F607");
	m->sender = xstrdup("bob@example.test");
	m->envid = xstrdup("ENV+2B42");
	m->client = xstrdup("");
	m->authuser = xstrdup("");
	m->arrival = 1700000000;
	struct qrcpt *r = qmsg_add_rcpt(m, "nobody@example.test", "rfc822;Nobody+2Bx@example.test", 0);
	free(r->status);
	free(r->reason);
	r->status = xstrdup("5.1.1");
	r->reason = xstrdup("550 5.1.1 unknown user\r\nInjected: header");
	r->state = RS_BOUNCED;
	r = qmsg_add_rcpt(m, "slow@example.test", "", 0);
	free(r->status);
	r->status = xstrdup("4.2.2");
	r->state = RS_DEFERRED;
	r->next_attempt = 1700003600;
}

static bool crlf_only(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
			return false;
	return true;
}

int main(void)
{
	struct qmsg m;
	make(&m);
	uint32_t failed[] = { 0 };
	struct dsn_input in = { .m = &m, .hostname = "mx.example.test", .kind = DSN_FAILED,
				.rcpts = failed, .nrcpt = 1, .original = orig,
				.original_len = strlen(orig), .full = true, .now = 1700000100 };
	size_t n;
	char *d = dsn_build(&in, &n);
	CHECK(n == strlen(d));
	CHECK(crlf_only(d, n));
	CHECK(strstr(d, "Content-Type: multipart/report; report-type=delivery-status;\r\n") != NULL);
	CHECK(strstr(d, "To: <bob@example.test>\r\n") != NULL);
	CHECK(strstr(d, "Auto-Submitted: auto-replied\r\n") != NULL);
	CHECK(strstr(d, "Content-Type: message/delivery-status\r\n") != NULL);
	CHECK(strstr(d, "Reporting-MTA: dns; mx.example.test\r\n") != NULL);
	CHECK(strstr(d, "Original-Envelope-Id: ENV+42\r\n") != NULL);	/* xtext decoded */
	CHECK(strstr(d, "Arrival-Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n") != NULL);
	CHECK(strstr(d, "Final-Recipient: rfc822; nobody@example.test\r\n") != NULL);
	CHECK(strstr(d, "Original-Recipient: rfc822;Nobody+x@example.test\r\n") != NULL);
	CHECK(strstr(d, "Action: failed\r\nStatus: 5.1.1\r\n") != NULL);
	/* The SMTP reply is an smtp diagnostic; its CR LF cannot inject a field. */
	CHECK(strstr(d, "Diagnostic-Code: smtp; 550 5.1.1 unknown user  Injected: header\r\n") != NULL);
	CHECK(strstr(d, "\r\nInjected:") == NULL);
	CHECK(strstr(d, "slow@example.test") == NULL);	/* not reported */
	CHECK(strstr(d, "Content-Type: message/rfc822\r\n") != NULL);
	CHECK(strstr(d, "\r\nbody line\r\n") != NULL);
	/* multipart structure: 3 parts, closing boundary last */
	char *b = strstr(d, "boundary=\"");
	CHECK(b != NULL);
	if (b) {
		char bound[128];
		size_t bl = strcspn(b + 10, "\"");
		snprintf(bound, sizeof bound, "\r\n--%.*s", (int)bl, b + 10);
		int parts = 0;
		for (char *p = strstr(d, bound); p; p = strstr(p + 1, bound))
			parts++;
		CHECK(parts == 4);	/* three openers and the closer */
		char close[140];
		snprintf(close, sizeof close, "%s--\r\n", bound);
		CHECK(n > strlen(close) && !strcmp(d + n - strlen(close), close));
	}
	free(d);

	/* Delay notice, headers only. */
	uint32_t delayed[] = { 1 };
	in.kind = DSN_DELAYED;
	in.rcpts = delayed;
	in.full = false;
	d = dsn_build(&in, &n);
	CHECK(strstr(d, "Subject: Delayed Mail (still being retried)\r\n") != NULL);
	CHECK(strstr(d, "Action: delayed\r\nStatus: 4.2.2\r\n") != NULL);
	CHECK(strstr(d, "Will-Retry-Until: ") != NULL);
	CHECK(strstr(d, "Content-Type: text/rfc822-headers\r\n") != NULL);
	CHECK(strstr(d, "Subject: hello\r\n") != NULL);
	CHECK(strstr(d, "body line") == NULL);
	free(d);
	/* Success report (NOTIFY=SUCCESS), headers only. */
	uint32_t ok[] = { 0 };
	free(m.rcpt[0].status);
	m.rcpt[0].status = xstrdup("2.0.0");
	m.rcpt[0].state = RS_DELIVERED;
	in.kind = DSN_DELIVERED;
	in.rcpts = ok;
	d = dsn_build(&in, &n);
	CHECK(strstr(d, "Subject: Successful Mail Delivery Report\r\n") != NULL);
	CHECK(strstr(d, "Action: delivered\r\nStatus: 2.0.0\r\n") != NULL);
	CHECK(strstr(d, "Content-Type: text/rfc822-headers\r\n") != NULL);
	free(d);
	/* A status of the wrong class never contradicts the action. */
	free(m.rcpt[0].status);
	m.rcpt[0].status = xstrdup("5.1.1");
	d = dsn_build(&in, &n);
	CHECK(strstr(d, "Action: delivered\r\nStatus: 2.0.0\r\n") != NULL);
	free(d);
	CHECK(dsn_header_len(orig, strlen(orig)) == strlen(orig) - strlen("body line\r\n"));
	qmsg_free(&m);
	return check_summary("queued_dsn");
}
