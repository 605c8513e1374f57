/* smtp_client.c — blocking SMTP client with deadlines, STARTTLS and AUTH. */
#include "deliverd/smtp_client.h"
#include "common/tls.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REPLY_MAX_LINES 100

static void fail(struct smtp_reply *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void fail(struct smtp_reply *r, const char *fmt, ...)
{
	va_list ap;
	r->code = 0;
	va_start(ap, fmt);
	vsnprintf(r->text, sizeof r->text, fmt, ap);
	va_end(ap);
}

static uint64_t mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

void sc_deadline(struct smtp_client *c, int seconds)
{
	c->deadline_ms = seconds > 0 ? mono_ms() + (uint64_t)seconds * 1000 : 0;
	c->expired = false;
}

/* Wait for ev on c's socket for timeout_sec, but never past c's deadline: a
 * peer that sends a byte now and then cannot hold a delivery for ever. */
static int wait_fd(struct smtp_client *c, short ev, int timeout_sec)
{
	struct pollfd p = { c->fd, ev, 0 };
	int n;
	do {
		uint64_t ms = (uint64_t)timeout_sec * 1000;
		if (c->deadline_ms) {
			uint64_t now = mono_ms();
			if (now >= c->deadline_ms) {
				c->expired = true;
				return -1;
			}
			if (c->deadline_ms - now < ms)
				ms = c->deadline_ms - now;
		}
		n = poll(&p, 1, (int)ms);
		if (n == 0 && c->deadline_ms && mono_ms() >= c->deadline_ms)
			c->expired = true;
	} while (n < 0 && errno == EINTR);
	return n > 0 ? 0 : -1;
}

/* Raw read of what is available, TLS or not; -1 on error/EOF/timeout. */
static ssize_t raw_read(struct smtp_client *c, char *buf, size_t n, int timeout_sec)
{
	for (;;) {
		if (c->ssl) {
			int k = SSL_read(c->ssl, buf, (int)n);
			if (k > 0)
				return k;
			int e = SSL_get_error(c->ssl, k);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				if (wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, timeout_sec) < 0)
					return -1;
				continue;
			}
			return -1;
		}
		if (wait_fd(c, POLLIN, timeout_sec) < 0)
			return -1;
		ssize_t k = read(c->fd, buf, n);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		return k > 0 ? k : -1;
	}
}

static int raw_write(struct smtp_client *c, const char *p, size_t n, int timeout_sec)
{
	while (n) {
		ssize_t k;
		if (c->ssl) {
			int w = SSL_write(c->ssl, p, (int)(n > 65536 ? 65536 : n));
			if (w <= 0) {
				int e = SSL_get_error(c->ssl, w);
				if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) &&
				    wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
					    timeout_sec) == 0)
					continue;
				return -1;
			}
			k = w;
		} else {
			if (wait_fd(c, POLLOUT, timeout_sec) < 0)
				return -1;
			k = send(c->fd, p, n, MSG_NOSIGNAL);
			if (k < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (k < 0)
				return -1;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* One reply line (without CRLF) into line; -1 on error or overlong line. */
static int read_line(struct smtp_client *c, char *line, size_t max, int timeout_sec)
{
	for (;;) {
		char *lf = memchr(c->buf, '\n', c->len);
		if (lf) {
			size_t n = (size_t)(lf - c->buf);
			size_t keep = n && c->buf[n - 1] == '\r' ? n - 1 : n;
			if (keep >= max)
				return -1;
			memcpy(line, c->buf, keep);
			line[keep] = '\0';
			memmove(c->buf, lf + 1, c->len - n - 1);
			c->len -= n + 1;
			return 0;
		}
		if (c->len == sizeof c->buf)
			return -1;	/* a reply line over 4 KB */
		ssize_t k = raw_read(c, c->buf + c->len, sizeof c->buf - c->len, timeout_sec);
		if (k <= 0)
			return -1;
		c->len += (size_t)k;
	}
}

static void note_extension(struct smtp_client *c, const char *kw)
{
	static const struct { const char *name; unsigned bit; } exts[] = {
		{ "PIPELINING", EXT_PIPELINING }, { "8BITMIME", EXT_8BITMIME },
		{ "SMTPUTF8", EXT_SMTPUTF8 }, { "DSN", EXT_DSN }, { "STARTTLS", EXT_STARTTLS },
		{ "ENHANCEDSTATUSCODES", EXT_ENHANCED }, { "REQUIRETLS", EXT_REQUIRETLS },
	};
	for (size_t i = 0; i < ARRAY_LEN(exts); i++)
		if (!strcasecmp(kw, exts[i].name))
			c->ext |= exts[i].bit;
	if (!strncasecmp(kw, "SIZE", 4) && (kw[4] == ' ' || kw[4] == '\0')) {
		c->ext |= EXT_SIZE;
		c->max_size = strtoull(kw + 4, NULL, 10);
	}
	if (!strncasecmp(kw, "AUTH ", 5) || !strncasecmp(kw, "AUTH=", 5)) {
		char up[256];
		snprintf(up, sizeof up, " %.250s ", kw + 5);
		for (char *p = up; *p; p++)
			*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		if (strstr(up, " PLAIN "))
			c->ext |= EXT_AUTH_PLAIN;
		if (strstr(up, " LOGIN "))
			c->ext |= EXT_AUTH_LOGIN;
	}
}

/* RFC 5321 4.2: three digits, the first 2..5, then SP, '-' or the end of
 * the line (atoi() alone took "50e" for a code 50). */
static bool reply_code_ok(const char *line)
{
	return line[0] >= '2' && line[0] <= '5' && isdigit((unsigned char)line[1]) &&
	       isdigit((unsigned char)line[2]) &&
	       (line[3] == ' ' || line[3] == '-' || line[3] == '\0');
}

/* Read a (multi-line) reply; with ehlo set, collect extensions. */
static int read_reply(struct smtp_client *c, int timeout_sec, struct smtp_reply *r, bool ehlo)
{
	char line[1024];
	for (int i = 0; i < REPLY_MAX_LINES; i++) {
		if (read_line(c, line, sizeof line, timeout_sec) < 0) {
			if (c->expired)
				fail(r, "%s took longer than the delivery deadline (smtp_deadline)", c->host);
			else
				fail(r, "lost connection with %s", c->host);
			return -1;
		}
		if (!reply_code_ok(line)) {
			fail(r, "malformed reply from %s", c->host);
			return -1;
		}
		if (ehlo && i > 0)
			note_extension(c, line + 4);
		if (line[3] != '-') {
			r->code = atoi(line);
			snprintf(r->text, sizeof r->text, "%.500s", line[3] ? line + 4 : "");
			return 0;
		}
	}
	fail(r, "reply from %s has too many lines", c->host);
	return -1;
}

/* Our end of the connection, for TLS reports (sending-mta-ip). */
static void local_address(struct smtp_client *c)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	if (getsockname(c->fd, (struct sockaddr *)&ss, &sl) < 0)
		return;
	if (ss.ss_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, c->local, sizeof c->local);
	else if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, c->local,
			  sizeof c->local);
}

int sc_open(struct smtp_client *c, const char *host, const char *addr, unsigned port,
	    int timeout_sec, int deadline_sec, struct smtp_reply *r)
{
	memset(c, 0, sizeof *c);
	c->fd = -1;
	sc_deadline(c, deadline_sec);
	snprintf(c->host, sizeof c->host, "%s", host);
	snprintf(c->addr, sizeof c->addr, "%s", addr);
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		sl = sizeof *s4;
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		sl = sizeof *s6;
	} else {
		fail(r, "bad address %s", addr);
		return -1;
	}
	c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		fail(r, "socket: %s", strerror(errno));
		return -1;
	}
	int e = 0;
	socklen_t el = sizeof e;
	if ((connect(c->fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) ||
	    wait_fd(c, POLLOUT, timeout_sec) < 0 ||
	    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0 || e) {
		fail(r, "connect to %.255s[%.63s]:%u failed: %s", host, addr, port,
		     strerror(e ? e : errno));
		sc_close(c, false);
		return -1;
	}
	if (read_reply(c, 300, r, false) < 0 || r->code != 220) {
		if (r->code)
			sc_close(c, true);
		else
			sc_close(c, false);
		return -1;
	}
	c->last_used = time(NULL);
	local_address(c);
	return 0;
}

int sc_command(struct smtp_client *c, const char *line, int timeout_sec, struct smtp_reply *r)
{
	char buf[2048];
	int n = snprintf(buf, sizeof buf, "%s\r\n", line);
	if (n >= (int)sizeof buf || raw_write(c, buf, (size_t)n, timeout_sec) < 0) {
		fail(r, "lost connection with %s while sending a command", c->host);
		return -1;
	}
	c->last_used = time(NULL);
	return read_reply(c, timeout_sec, r, !strncasecmp(line, "EHLO ", 5));
}

void sc_queue(struct smtp_client *c, const char *line)
{
	strbuf_adds(&c->out, line);
	strbuf_add(&c->out, "\r\n", 2);
}

int sc_flush(struct smtp_client *c, int timeout_sec, struct smtp_reply *r)
{
	int rc = c->out.len ? raw_write(c, c->out.p, c->out.len, timeout_sec) : 0;
	strbuf_reset(&c->out);
	if (rc < 0)
		fail(r, "lost connection with %s while sending commands", c->host);
	c->last_used = time(NULL);
	return rc;
}

int sc_reply(struct smtp_client *c, int timeout_sec, struct smtp_reply *r)
{
	return read_reply(c, timeout_sec, r, false);
}

int sc_hello(struct smtp_client *c, const char *myname, struct smtp_reply *r)
{
	char cmd[300];
	c->ext = 0;
	c->max_size = 0;
	snprintf(cmd, sizeof cmd, "EHLO %s", myname);
	if (sc_command(c, cmd, 300, r) < 0)
		return -1;
	if (r->code == 250)
		return 0;
	if (r->code >= 500) {
		snprintf(cmd, sizeof cmd, "HELO %s", myname);
		if (sc_command(c, cmd, 300, r) < 0)
			return -1;
	}
	return r->code == 250 ? 0 : -1;
}

int sc_starttls(struct smtp_client *c, SSL_CTX *ctx, const char *myname,
		const struct dane_tlsa *dane, bool *verified, struct smtp_reply *r)
{
	*verified = false;
	c->dane[0] = 0;
	if (sc_command(c, "STARTTLS", 120, r) < 0 || r->code != 220)
		return -1;
	if (c->len) {
		fail(r, "%s sent data before the TLS handshake", c->host);
		return -1;	/* response injection (CVE-2011-0411 class) */
	}
	c->ssl = SSL_new(ctx);
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_tlsext_host_name(c->ssl, c->host);
	SSL_set1_host(c->ssl, c->host);
	if (dane && dane_ssl_setup(c->ssl, c->host, dane) < 0) {
		fail(r, "none of the TLSA records of %s could be used", c->host);
		return -1;
	}
	for (;;) {
		int k = SSL_connect(c->ssl);
		if (k == 1)
			break;
		int e = SSL_get_error(c->ssl, k);
		if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) &&
		    wait_fd(c, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, 120) == 0)
			continue;
		char err[160];
		ERR_error_string_n(ERR_get_error(), err, sizeof err);
		long v = SSL_get_verify_result(c->ssl);
		if (v != X509_V_OK)	/* a context that verifies peers stops at a bad one */
			fail(r, "TLS handshake failed: certificate of %s did not verify: %s", c->host,
			     X509_verify_cert_error_string(v));
		else
			fail(r, "TLS handshake failed: %s", err);
		ERR_clear_error();
		return -1;
	}
	c->verify_err = SSL_get_verify_result(c->ssl);
	*verified = c->verify_err == X509_V_OK &&
		    SSL_get0_peer_certificate(c->ssl) != NULL;
	if (dane)
		dane_matched(c->ssl, c->dane, sizeof c->dane);
	tls_describe(c->ssl, c->tls, sizeof c->tls);
	return sc_hello(c, myname, r);
}

int sc_auth(struct smtp_client *c, const char *user, const char *pass, struct smtp_reply *r)
{
	size_t ul = strlen(user), pl = strlen(pass);
	unsigned char raw[1024];
	char cmd[1500];
	if (ul + pl + 2 > sizeof raw) {
		fail(r, "relay credentials too long");
		return -1;
	}
	raw[0] = '\0';
	memcpy(raw + 1, user, ul);
	raw[1 + ul] = '\0';
	memcpy(raw + 2 + ul, pass, pl);
	int n = snprintf(cmd, sizeof cmd, "AUTH PLAIN ");
	EVP_EncodeBlock((unsigned char *)cmd + n, raw, (int)(ul + pl + 2));
	explicit_bzero(raw, sizeof raw);
	int rc = sc_command(c, cmd, 300, r);
	explicit_bzero(cmd, sizeof cmd);
	return rc == 0 && r->code == 235 ? 0 : -1;
}

int sc_data(struct smtp_client *c, const char *msg, size_t len, struct smtp_reply *r)
{
	/* Dot-stuff into chunks: a line starting with '.' gets one more. */
	char out[65536 + 2];
	size_t o = 0;
	bool bol = true;
	for (size_t i = 0; i < len; i++) {
		if (bol && msg[i] == '.')
			out[o++] = '.';
		out[o++] = msg[i];
		bol = msg[i] == '\n';
		if (o >= sizeof out - 2) {
			if (raw_write(c, out, o, 180) < 0)
				goto lost;
			o = 0;
		}
	}
	if (len && msg[len - 1] != '\n') {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	if ((o && raw_write(c, out, o, 180) < 0) || raw_write(c, ".\r\n", 3, 180) < 0)
		goto lost;
	c->last_used = time(NULL);
	if (read_reply(c, 600, r, false) == 0)
		return 0;
	/* RFC 1047: the peer may have taken the message and died before its
	 * reply came; the retry that follows may deliver it twice. Say so. */
	if (!c->expired)
		fail(r, "lost connection with %s after the end of the message (it may have been "
		     "delivered: a retry may deliver it twice)", c->host);
	return -1;
lost:
	fail(r, "lost connection with %s while sending the message", c->host);
	return -1;
}

void sc_close(struct smtp_client *c, bool quit)
{
	if (quit && c->fd >= 0) {
		struct smtp_reply r;
		(void)sc_command(c, "QUIT", 10, &r);
	}
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	strbuf_free(&c->out);
}
