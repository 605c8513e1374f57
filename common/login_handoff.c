/* login_handoff.c — the login -> mail hand-off message (login_handoff.h). */
#include "common/login_handoff.h"
#include "common/auth_client.h"
#include "common/log.h"

_Static_assert(LOGIN_HANDOFF_TOKEN_MAX == AUTH_TOKEN_MAX - 1, "a token authd mints must fit");

void login_handoff_put(struct ipc_msg *m, const struct login_handoff *h)
{
	m->sensitive = true;	/* the token logs the user in */
	ipc_put_str(m, h->user);
	ipc_put_str(m, h->token);
	ipc_put_str(m, h->tag ? h->tag : "");
	ipc_put_str(m, h->ip);
	ipc_put_u32(m, h->flags);
	ipc_put_bytes(m, h->npending ? h->pending : "", h->npending);
	ipc_put_fd(m, h->fd);
}

/* Why a decoded message is refused, or NULL when it is a hand-off. */
static const char *refusal(const struct ipc_msg *m, uint16_t type, const struct login_handoff *h)
{
	if (m->hdr.type != type)
		return "wrong message type";
	if (m->bad)
		return "a field missing or over its limit";
	if (m->rpos != m->hdr.len)
		return "bytes after the last field";
	if (h->flags & ~LOGIN_HF_ALL)
		return "unknown flag bits";
	if (h->fd < 0)
		return "no connection attached";
	return NULL;
}

bool login_handoff_get(struct ipc_msg *m, uint16_t type, const char *role,
		       struct login_handoff *h)
{
	m->sensitive = true;
	*h = (struct login_handoff){ .fd = ipc_take_fd(m) };
	h->user = ipc_get_str(m, LOGIN_HANDOFF_USER_MAX);
	h->token = ipc_get_str(m, LOGIN_HANDOFF_TOKEN_MAX);
	h->tag = ipc_get_str(m, LOGIN_HANDOFF_TAG_MAX);
	h->ip = ipc_get_str(m, LOGIN_HANDOFF_IP_MAX);
	h->flags = ipc_get_u32(m);
	h->pending = ipc_get_bytes(m, &h->npending, LOGIN_HANDOFF_PENDING_MAX);
	const char *why = refusal(m, type, h);
	if (!why)
		return true;
	log_warn("%s: malformed hand-off refused (%s; type %u, flags %#x)", role, why,
		 (unsigned)m->hdr.type, (unsigned)h->flags);
	return false;
}
