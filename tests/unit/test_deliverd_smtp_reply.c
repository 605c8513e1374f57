/* Unit tests: the SMTP client's reply reader (deliverd/smtp_client.c) takes
 * only RFC 5321 4.2 reply codes (three digits, the first 2..5); anything else
 * is a malformed reply, never a code outside 200..599. */
#include "deliverd/smtp_client.h"
#include "tests/unit/check.h"

#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The reply the client reads when the server sent text; its return value. */
static int reply_to(const char *text, struct smtp_reply *r)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return -2;
	(void)!write(sv[1], text, strlen(text));
	shutdown(sv[1], SHUT_WR);
	struct smtp_client c;
	memset(&c, 0, sizeof c);
	c.fd = sv[0];
	strcpy(c.host, "mx.test");
	memset(r, 0, sizeof *r);
	int rc = sc_reply(&c, 5, r);
	close(sv[0]);
	close(sv[1]);
	return rc;
}

int main(void)
{
	struct smtp_reply r;
	CHECK(reply_to("250 ok\r\n", &r) == 0 && r.code == 250 && !strcmp(r.text, "ok"));
	CHECK(reply_to("250-first\r\n250-second\r\n550 5.1.1 no\r\n", &r) == 0 && r.code == 550);
	CHECK(reply_to("354\r\n", &r) == 0 && r.code == 354 && r.text[0] == '\0');
	/* not three digits: atoi() made codes 50 and 2 of these */
	CHECK(reply_to("50e\r\n", &r) < 0 && r.code == 0);
	CHECK(reply_to("2xx ok\r\n", &r) < 0 && r.code == 0);
	CHECK(reply_to("250-a\r\n5 0 b\r\n", &r) < 0 && r.code == 0);
	CHECK(reply_to("6xx\r\n", &r) < 0);
	CHECK(reply_to("25\r\n", &r) < 0);
	return check_summary("deliverd_smtp_reply");
}
