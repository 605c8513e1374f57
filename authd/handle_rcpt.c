/* handle_rcpt.c — AUTH_RCPT_REQ: is this a recipient we accept mail for? */
#include "authd/authd.h"
#include "authd/resolve.h"
#include "common/log.h"

int handle_rcpt(struct conn *c, struct ipc_msg *req)
{
	const char *address = ipc_get_str(req, AUTH_MAX_FIELD);
	if (!ipc_end(req))
		return -1;
	enum rcpt_kind k = resolve_rcpt(authd.db_dir, address);
	if (k == RCPT_TEMPFAIL)
		log_err("rcpt: address=%.320s result=tempfail (user database unreadable)", address);
	else
		log_debug("rcpt: address=%.320s kind=%d", address, (int)k);
	struct ipc_msg m;
	ipc_msg_init(&m, AUTH_RCPT_RES, req->hdr.id);
	ipc_put_u32(&m, k);
	conn_reply(c, &m);
	return 0;
}
