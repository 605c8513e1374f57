/* policy.c — who may send what to whom. Every lookup is a question to authd
 * through its asynchronous client (common/auth_client.h); smtpd never reads the
 * user database itself.
 *   port 25: local recipients (users, aliases, catch-alls) and relay_domains;
 *            unknown local recipients 550 5.1.1; anything else 554 5.7.1.
 *   authenticated: any recipient that is not an unknown local one; the sender
 *            must be one of the user's own addresses (authd decides). */
#include "smtpd/session.h"
#include "common/auth_client.h"
#include "common/log.h"

#include <string.h>

/* The internal port takes only users stored here. A user of another host
 * (moved meanwhile, or directories out of step) waits at the front-end and
 * is routed anew there; anything outside our domains is no business of this
 * port. */
static enum rcpt_verdict internal_verdict(const struct auth_reply *r)
{
	if (r->tempfail)
		return RV_TEMPFAIL;
	switch (r->result) {
	case RCPT_LOCAL:
		return RV_OK;
	case RCPT_UNKNOWN:
		return RV_UNKNOWN;
	case RCPT_REMOTE:
		return RV_RELAY_DENIED;
	default:
		return RV_TEMPFAIL;
	}
}

static enum rcpt_verdict rcpt_verdict(struct session *s, const struct auth_reply *r)
{
	const char *addr = s->tx.pending.addr;
	const char *at = strrchr(addr, '@');
	if (s->kind == L_INTERNAL)
		return internal_verdict(r);
	if (r->tempfail)
		return RV_TEMPFAIL;
	switch (r->result) {
	case RCPT_LOCAL:
	case RCPT_RELAY:	/* ours, stored on another host of the site */
		return RV_OK;
	case RCPT_UNKNOWN:
		return RV_UNKNOWN;
	case RCPT_REMOTE:
		if (s->auth_user || (at && smtpd_relay_domain(&s->srv->conf, at + 1)))
			return RV_OK;
		return RV_RELAY_DENIED;
	default:
		return RV_TEMPFAIL;
	}
}

static void rcpt_res(const struct auth_reply *r, void *arg)
{
	struct session *s = arg;
	s->auth_req = 0;
	txn_rcpt_done(s, rcpt_verdict(s, r));
}

void policy_rcpt(struct session *s, const char *addr)
{
	s->auth_req = auth_client_rcpt(s->srv->auth, addr, rcpt_res, s);
}

static void sender_res(const struct auth_reply *r, void *arg)
{
	struct session *s = arg;
	s->auth_req = 0;
	txn_sender_done(s, !r->tempfail && r->result == 1, r->tempfail);
}

void policy_sender(struct session *s, const char *addr)
{
	s->auth_req = auth_client_sender(s->srv->auth, s->auth_user, addr, sender_res, s);
}

static void login_res(const struct auth_reply *r, void *arg)
{
	struct session *s = arg;
	s->auth_req = 0;
	int result = r->tempfail ? AUTH_TEMPFAIL : (int)r->result;
	if (result == AUTH_OK && (!r->user || !*r->user))
		result = AUTH_TEMPFAIL;
	auth_login_done(s, result, r->user);
}

void policy_login(struct session *s, const char *user, const char *pass)
{
	s->auth_req = auth_client_login(s->srv->auth, "smtp", user, pass, s->ip, login_res, s);
}
