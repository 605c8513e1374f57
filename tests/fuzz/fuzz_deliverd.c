/* fuzz_deliverd.c — libFuzzer target for what the remote delivery agent reads
 * from other hosts and rewrites before it sends:
 *  - the SMTP client's reply reader (deliverd/smtp_client.c), fed the input
 *    as the server's side of a connection (a socketpair, written by a thread
 *    so inputs larger than a socket buffer go through): the greeting, EHLO
 *    (and HELO after a 5xx), pipelined commands and single commands until
 *    the connection ends;
 *  - the 8BITMIME downgrade (deliverd/downgrade.c) of the input as a message.
 *
 * Invariants checked: a reply read is 200..599 with a text that ends within
 *    its buffer; only known extension bits are set; a SIZE is only taken
 *    from an EHLO that announced SIZE. A message without 8-bit bytes is sent
 *    unchanged, and downgrading a downgraded message changes nothing.
 * Run: make fuzz (long) or make fuzz-smoke (part of make check). */
#include "deliverd/remote_int.h"
#include "deliverd/smtp_client.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define EXT_ALL (EXT_PIPELINING | EXT_SIZE | EXT_8BITMIME | EXT_SMTPUTF8 | EXT_DSN | EXT_STARTTLS | \
		 EXT_AUTH_PLAIN | EXT_AUTH_LOGIN | EXT_ENHANCED | EXT_REQUIRETLS)

struct feed {
	int fd;
	const uint8_t *data;
	size_t size;
};

/* The server: writes the input, then closes its end (EOF for the client). */
static void *serve(void *arg)
{
	struct feed *f = arg;
	for (size_t off = 0; off < f->size;) {
		ssize_t k = send(f->fd, f->data + off, f->size - off, MSG_NOSIGNAL);
		if (k <= 0)
			break;	/* the client gave up and closed */
		off += (size_t)k;
	}
	shutdown(f->fd, SHUT_WR);
	return NULL;
}

static void check_reply(int rc, const struct smtp_reply *r)
{
	if (memchr(r->text, '\0', sizeof r->text) == NULL)
		abort();
	if (rc == 0 && (r->code < 200 || r->code > 599))
		abort();
}

static void check_client(const struct smtp_client *c)
{
	if (c->ext & ~(unsigned)EXT_ALL)
		abort();
	if (c->max_size && !(c->ext & EXT_SIZE))
		abort();
	if (c->len > sizeof c->buf)
		abort();
}

/* One client session against the input; every reply is checked. */
static void session(int fd)
{
	struct smtp_client c;
	memset(&c, 0, sizeof c);
	c.fd = fd;
	strcpy(c.host, "mx.fuzz.test");
	sc_deadline(&c, 30);
	struct smtp_reply r;
	memset(&r, 0, sizeof r);
	int rc = sc_reply(&c, 5, &r);	/* the greeting */
	check_reply(rc, &r);
	if (rc < 0)
		return;
	rc = sc_hello(&c, "client.fuzz.test", &r);
	check_reply(rc == 0 ? 0 : -1, &r);
	check_client(&c);
	sc_queue(&c, "MAIL FROM:<a@fuzz.test>");
	sc_queue(&c, "RCPT TO:<b@fuzz.test>");
	rc = sc_flush(&c, 5, &r);
	for (int i = 0; i < 2 && rc == 0; i++) {
		rc = sc_reply(&c, 5, &r);
		check_reply(rc, &r);
	}
	for (int i = 0; i < 64 && rc == 0; i++) {
		rc = sc_command(&c, "NOOP", 5, &r);
		check_reply(rc, &r);
	}
	check_client(&c);
	strbuf_free(&c.out);
}

static void replies(const uint8_t *data, size_t size)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	struct feed f = { sv[1], data, size };
	pthread_t t;
	if (pthread_create(&t, NULL, serve, &f) != 0)
		abort();
	session(sv[0]);
	close(sv[0]);	/* a server still writing sees EPIPE and stops */
	pthread_join(t, NULL);
	close(sv[1]);
}

static bool has_8bit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] >= 0x80)
			return true;
	return false;
}

static void downgrade(const uint8_t *data, size_t size)
{
	size_t n1, n2;
	char *once = downgrade_8bit((const char *)data, size, &n1);
	if (!has_8bit((const char *)data, size) && (n1 != size || memcmp(once, data, size)))
		abort();
	char *twice = downgrade_8bit(once, n1, &n2);
	if (n2 != n1 || memcmp(once, twice, n1))
		abort();
	free(once);
	free(twice);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	replies(data, size);
	downgrade(data, size);
	return 0;
}
