/* auth.c — SMTP AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN. Offered and
 * accepted only over TLS (or from plaintext_auth_networks); the password is
 * checked by authd, which also slows down and locks out repeated failures. */
#include "smtpd/session.h"
#include "common/auth_proto.h"
#include "common/log.h"
#include "common/site.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { MECH_PLAIN, MECH_LOGIN };

static void auth_abort(struct session *s, const char *reply)
{
	session_reply(s, "%s", reply);
	s->state = ST_HELO;
	free(s->auth_login_user);
	s->auth_login_user = NULL;
	session_error(s);
}

/* Decode one base64 SASL response into a fresh NUL-terminated buffer. */
static unsigned char *decode(const char *b64, size_t *n)
{
	size_t cap = strlen(b64) / 4 * 3 + 2;
	unsigned char *buf = xmalloc(cap);
	long r = b64_decode(b64, buf, cap - 1);
	if (r < 0) {
		free(buf);
		return NULL;
	}
	buf[r] = '\0';
	*n = (size_t)r;
	return buf;
}

/* The internal port: a front-end gives the site secret as user "site". The
 * secret is the site's, not a user's password: smtpd holds it (read as root)
 * and compares it here, in constant time; authd keeps the users' hashes. */
static void site_login(struct session *s, const char *user, const char *pass)
{
	const char *secret = s->srv->conf.site_secret;
	if (s->srv->conf.site_tls_verify && !s->tls) {
		/* a front-end of a site with site_tls = verify never sends it so */
		log_warn("session %llx: site auth refused client=%s: no TLS (site_tls = verify)",
			 (unsigned long long)s->id, s->ip);
		session_reply(s, "538 5.7.11 Encryption required for requested authentication mechanism");
		session_error(s);
		return;
	}
	bool ok = !strcmp(user, "site") && site_secret_equal(secret, pass);
	if (ok) {
		s->site_peer = true;
		log_info("session %llx: site auth ok client=%s", (unsigned long long)s->id, s->ip);
		session_reply(s, "235 2.7.0 Authentication successful");
		return;
	}
	s->auth_failures++;
	log_warn("session %llx: site auth failed client=%s%s", (unsigned long long)s->id, s->ip,
		 secret[0] ? "" : " (this host has no site_secret_file)");
	session_reply(s, "535 5.7.8 Authentication credentials invalid");
	session_error(s);
}

static void check_login(struct session *s, const char *user, const char *pass)
{
	s->state = ST_HELO;
	if (s->kind == L_INTERNAL) {
		site_login(s, user, pass);
		return;
	}
	s->busy = true;
	policy_login(s, user, pass);
}

static void plain_response(struct session *s, const char *b64)
{
	size_t n;
	const char *user, *pass;
	unsigned char *buf = decode(b64, &n);
	if (!buf) {
		auth_abort(s, "501 5.5.2 Cannot decode AUTH response");
		return;
	}
	if (!parse_sasl_plain(buf, n, &user, &pass)) {
		OPENSSL_cleanse(buf, n);
		free(buf);
		auth_abort(s, "501 5.5.2 Malformed AUTH PLAIN response");
		return;
	}
	check_login(s, user, pass);
	OPENSSL_cleanse(buf, n);
	free(buf);
}

static void login_response(struct session *s, const char *b64)
{
	size_t n;
	unsigned char *buf = decode(b64, &n);
	if (!buf || memchr(buf, 0, n) || !utf8_valid((char *)buf, n)) {
		free(buf);
		auth_abort(s, "501 5.5.2 Cannot decode AUTH response");
		return;
	}
	if (s->auth_step == 0) {
		s->auth_login_user = (char *)buf;
		s->auth_step = 1;
		session_reply(s, "334 UGFzc3dvcmQ6");	/* "Password:" */
		return;
	}
	check_login(s, s->auth_login_user, (char *)buf);
	OPENSSL_cleanse(buf, n);
	free(buf);
	free(s->auth_login_user);
	s->auth_login_user = NULL;
}

static void respond(struct session *s, const char *b64)
{
	if (s->auth_mech == MECH_PLAIN)
		plain_response(s, b64);
	else
		login_response(s, b64);
}

void cmd_auth(struct session *s, const char *arg)
{
	char mech[32];
	size_t n = strcspn(arg, " ");
	const char *initial = arg[n] == ' ' ? arg + n + 1 : NULL;
	if (s->auth_user || s->site_peer) {
		session_reply(s, "503 5.5.1 Error: already authenticated");
		session_error(s);
		return;
	}
	if (!session_auth_allowed(s)) {
		session_reply(s, "538 5.7.11 Encryption required for requested authentication mechanism");
		session_error(s);
		return;
	}
	if (n == 0 || n >= sizeof mech) {
		session_reply(s, "501 5.5.4 Syntax: AUTH mechanism [initial-response]");
		session_error(s);
		return;
	}
	memcpy(mech, arg, n);
	mech[n] = '\0';
	if (!strcasecmp(mech, "PLAIN"))
		s->auth_mech = MECH_PLAIN;
	else if (!strcasecmp(mech, "LOGIN"))
		s->auth_mech = MECH_LOGIN;
	else {
		session_reply(s, "504 5.5.4 Unrecognized authentication mechanism");
		session_error(s);
		return;
	}
	s->auth_step = 0;
	s->state = ST_AUTH;
	if (initial && !strcmp(initial, "="))	/* RFC 4954 4: empty initial response */
		initial = "";
	if (initial)
		respond(s, initial);
	else
		session_reply(s, s->auth_mech == MECH_PLAIN ? "334 " : "334 VXNlcm5hbWU6");
}

void auth_continue(struct session *s, const char *line)
{
	if (!strcmp(line, "*")) {
		auth_abort(s, "501 5.0.0 Authentication cancelled");
		return;
	}
	respond(s, line);
}

void auth_login_done(struct session *s, int result, const char *user)
{
	switch (result) {
	case AUTH_OK:
		s->auth_user = xstrdup(user);
		log_debug("session %llx: auth ok client=%s user=%s", (unsigned long long)s->id, s->ip, user);
		session_reply(s, "235 2.7.0 Authentication successful");
		break;
	case AUTH_FAIL:
		s->auth_failures++;
		log_info("session %llx: auth failed client=%s", (unsigned long long)s->id, s->ip);
		session_reply(s, "535 5.7.8 Authentication credentials invalid");
		session_error(s);
		break;
	case AUTH_LOCKED:
		log_info("session %llx: auth locked client=%s", (unsigned long long)s->id, s->ip);
		session_reply(s, "454 4.7.0 Too many authentication failures, try again later");
		session_error(s);
		break;
	default:
		session_reply(s, "454 4.7.0 Temporary authentication failure");
		break;
	}
	session_resume(s);
}
