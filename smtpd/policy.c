/* policy.c — who may send what to whom. Every lookup is a question to authd
 * (common/auth_proto.h); smtpd never reads the user database itself.
 *   port 25: local recipients (users, aliases, catch-alls) and relay_domains;
 *            unknown local recipients 550 5.1.1; anything else 554 5.7.1.
 *   authenticated: any recipient that is not an unknown local one; the sender
 *            must be one of the user's own addresses (authd decides). */
#include "smtpd/peer.h"
#include "smtpd/session.h"
#include "common/auth_proto.h"
#include "common/log.h"
#include "common/util.h"

#include <string.h>

static enum rcpt_verdict rcpt_verdict(struct session *s, uint32_t kind)
{
	const char *addr = s->tx.rcpts[s->tx.nrcpt].addr;
	const char *at = strrchr(addr, '@');
	switch (kind) {
	case RCPT_LOCAL:
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

static void rcpt_res(void *owner, struct ipc_msg *m)
{
	struct session *s = owner;
	uint32_t kind = RCPT_TEMPFAIL;
	if (m && m->hdr.type == AUTH_RCPT_RES) {
		kind = ipc_get_u32(m);
		if (!ipc_end(m))
			kind = RCPT_TEMPFAIL;
	}
	if (s)
		txn_rcpt_done(s, rcpt_verdict(s, kind));
}

void policy_rcpt(struct session *s, const char *addr)
{
	struct ipc_msg m;
	ipc_msg_init(&m, AUTH_RCPT_REQ, 0);
	ipc_put_str(&m, addr);
	peer_request(s->srv->auth, &m, rcpt_res, s);
}

static void sender_res(void *owner, struct ipc_msg *m)
{
	struct session *s = owner;
	bool tempfail = true, ok = false;
	if (m && m->hdr.type == AUTH_SENDER_RES) {
		ok = ipc_get_u32(m) == 1;
		tempfail = !ipc_end(m);
	}
	if (s)
		txn_sender_done(s, ok && !tempfail, tempfail);
}

void policy_sender(struct session *s, const char *addr)
{
	struct ipc_msg m;
	ipc_msg_init(&m, AUTH_SENDER_REQ, 0);
	ipc_put_str(&m, s->auth_user);
	ipc_put_str(&m, addr);
	peer_request(s->srv->auth, &m, sender_res, s);
}

static void login_res(void *owner, struct ipc_msg *m)
{
	struct session *s = owner;
	uint32_t result = AUTH_TEMPFAIL;
	const char *user = NULL;
	if (m && m->hdr.type == AUTH_LOGIN_RES) {
		result = ipc_get_u32(m);
		user = ipc_get_str(m, AUTH_MAX_FIELD);
		(void)ipc_get_str(m, AUTH_MAX_FIELD);	/* token: for post-login processes only */
		if (!ipc_end(m) || (result == AUTH_OK && (!user || !*user)))
			result = AUTH_TEMPFAIL;
	}
	if (s)
		auth_login_done(s, (int)result, user);
}

void policy_login(struct session *s, const char *user, const char *pass)
{
	struct ipc_msg m;
	ipc_msg_init(&m, AUTH_LOGIN_REQ, 0);
	ipc_put_str(&m, "smtp");
	ipc_put_str(&m, user);
	ipc_put_str(&m, pass);
	ipc_put_str(&m, s->ip);
	peer_request(s->srv->auth, &m, login_res, s);
}
