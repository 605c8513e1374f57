/* smtp_client.h — a blocking SMTP client session for the remote delivery agent
 * (runs on a worker thread). Every read and write has a deadline (RFC 5321
 * 4.5.3.2 timeouts); replies are bounded (line length, line count). */
#ifndef TERN_SMTP_CLIENT_H
#define TERN_SMTP_CLIENT_H

#include "deliverd/dane.h"
#include "common/strbuf.h"

#include <openssl/ssl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ESMTP extensions the server announced. */
enum {
	EXT_PIPELINING = 1 << 0, EXT_SIZE = 1 << 1, EXT_8BITMIME = 1 << 2, EXT_SMTPUTF8 = 1 << 3,
	EXT_DSN = 1 << 4, EXT_STARTTLS = 1 << 5, EXT_AUTH_PLAIN = 1 << 6, EXT_AUTH_LOGIN = 1 << 7,
	EXT_ENHANCED = 1 << 8, EXT_REQUIRETLS = 1 << 9,
};

struct smtp_reply {
	int code;		/* 0 when the connection failed (see text) */
	char text[512];		/* last line's text, without the code */
};

struct smtp_client {
	int fd;
	SSL *ssl;
	char host[256];		/* peer name (MX host) */
	char addr[64];		/* peer address */
	char local[64];		/* our address on the connection (TLS reports) */
	long verify_err;	/* X509_V_* of the peer's certificate after STARTTLS */
	unsigned ext;
	uint64_t max_size;	/* SIZE limit announced, 0 if none */
	char tls[128];		/* "TLSv1.3 TLS_AES_256_GCM_SHA384" when encrypted */
	char dane[64];		/* the TLSA record that authenticated the peer, or "" */
	char buf[4096];
	size_t len;
	struct strbuf out;	/* queued pipelined commands */
	time_t last_used;
	uint64_t deadline_ms;	/* CLOCK_MONOTONIC; 0: none */
	bool expired;		/* an I/O wait ran into the deadline */
};

/* Every wait of c ends by seconds from now (0: no deadline), whatever the
 * peer's pace; for the session (sc_open) and again for each transaction. */
void sc_deadline(struct smtp_client *c, int seconds);

/* Connect to addr:port within timeout; read the greeting. 0 ok (reply 220),
 * -1 connection failed (r->code 0) or refused (r has the reply). */
int sc_open(struct smtp_client *c, const char *host, const char *addr, unsigned port,
	    int timeout_sec, int deadline_sec, struct smtp_reply *r);
/* Send a command line (CRLF added) and read the reply. 0 if a reply came. */
int sc_command(struct smtp_client *c, const char *line, int timeout_sec, struct smtp_reply *r);
/* PIPELINING (RFC 2920): queue a command line without reading; sc_flush sends the
 * queued lines in one write, then sc_reply reads one reply per command. */
void sc_queue(struct smtp_client *c, const char *line);
int sc_flush(struct smtp_client *c, int timeout_sec, struct smtp_reply *r);
int sc_reply(struct smtp_client *c, int timeout_sec, struct smtp_reply *r);
/* EHLO, falling back to HELO on 5xx; fills c->ext. 0 when the greeting was accepted. */
int sc_hello(struct smtp_client *c, const char *myname, struct smtp_reply *r);
/* STARTTLS then EHLO again. 0 ok; on -1 the session is unusable and r says
 * why. *verified set when the chain and name verified against the CAs, or,
 * with dane (TLSA records, else NULL), when a record matched (c->dane). */
int sc_starttls(struct smtp_client *c, SSL_CTX *ctx, const char *myname,
		const struct dane_tlsa *dane, bool *verified, struct smtp_reply *r);
/* AUTH PLAIN with user/password (relay host). */
int sc_auth(struct smtp_client *c, const char *user, const char *pass, struct smtp_reply *r);
/* Send the message body (CRLF lines, not dot-stuffed) with dot-stuffing and the
 * final ".", then read the reply. */
int sc_data(struct smtp_client *c, const char *msg, size_t len, struct smtp_reply *r);
void sc_close(struct smtp_client *c, bool quit);

#endif
