/* tlsio.c — STARTTLS (RFC 3207) and implicit TLS (smtps, RFC 8314) on
 * libevent's OpenSSL bufferevents.
 *
 * STARTTLS: after "220 2.0.0 Ready", reading stops and whatever the client pipelined
 * behind STARTTLS is thrown away (CVE-2011-0411: plaintext injected before the
 * handshake must never be taken as commands of the protected session). Once the
 * reply is flushed, the plain bufferevent is replaced by a TLS one on the same
 * socket, and the session starts afresh (RFC 3207 4.2: forget HELO and all). */
#include "smtpd/session.h"
#include "common/log.h"
#include "common/tls.h"
#include "common/util.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <string.h>

static bool tls_socket(struct session *s)
{
	SSL *ssl = SSL_new(s->srv->tls);
	if (!ssl)
		return false;
	s->bev = bufferevent_openssl_socket_new(s->srv->base, s->fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
						BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (!s->bev) {
		SSL_free(ssl);
		return false;
	}
	s->bev_owns_fd = true;
	bufferevent_openssl_set_allow_dirty_shutdown(s->bev, 1);
	s->state = ST_TLS;
	session_start_io(s);
	return true;
}

bool tls_start_implicit(struct session *s)
{
	return s->srv->tls && tls_socket(s);
}

void cmd_starttls(struct session *s, const char *arg)
{
	if (s->tls) {
		session_reply(s, "503 5.5.1 Error: TLS already active");
		session_error(s);
		return;
	}
	if (*arg) {
		session_reply(s, "501 5.5.4 Syntax: STARTTLS");
		session_error(s);
		return;
	}
	if (!s->srv->tls) {
		session_reply(s, "454 4.7.0 TLS not available");
		return;
	}
	struct evbuffer *in = bufferevent_get_input(s->bev);
	size_t junk = evbuffer_get_length(in);
	if (junk)
		log_warn("session %llx: client=%s pipelined %zu bytes after STARTTLS: discarded",
			 (unsigned long long)s->id, s->ip, junk);
	session_reply(s, "220 2.0.0 Ready to start TLS");
	bufferevent_disable(s->bev, EV_READ);
	evbuffer_drain(in, junk);
	s->state = ST_TLS;
}

/* The 220 has left: hand the socket to OpenSSL. */
void tls_after_flush(struct session *s)
{
	/* Plain input that arrived meanwhile is discarded with the old buffer. */
	bufferevent_free(s->bev);
	s->bev = NULL;
	if (!tls_socket(s)) {
		log_err("session %llx: cannot start TLS", (unsigned long long)s->id);
		session_close(s, "TLS setup failed");
	}
}

void tls_established(struct session *s)
{
	SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
	s->tls = true;
	strlcpy_t(s->tls_version, SSL_get_version(ssl), sizeof s->tls_version);
	strlcpy_t(s->tls_cipher, SSL_get_cipher_name(ssl), sizeof s->tls_cipher);
	log_debug("session %llx: TLS established client=%s %s %s", (unsigned long long)s->id, s->ip,
		 s->tls_version, s->tls_cipher);
	session_reset_txn(s);
	s->helo[0] = '\0';
	s->esmtp = false;
	s->state = ST_GREET;
	if (s->kind == L_SMTPS)
		session_greet(s);
	session_resume(s);
}

void tls_log_failure(struct session *s)
{
	unsigned long e = bufferevent_get_openssl_error(s->bev);
	char buf[256] = "connection closed";
	if (e)
		ERR_error_string_n(e, buf, sizeof buf);
	log_info("session %llx: TLS handshake failed client=%s: %s", (unsigned long long)s->id, s->ip, buf);
}
