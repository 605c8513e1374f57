/* handle_sender.c — AUTH_SENDER_REQ: may this authenticated user use this
 * envelope sender (its own address, a +detail of it, or an alias leading to it)? */
#include "authd/authd.h"
#include "authd/resolve.h"
#include "common/log.h"

int handle_sender(struct conn *c, struct ipc_msg *req)
{
	const char *user = ipc_get_str(req, AUTH_MAX_FIELD);
	const char *address = ipc_get_str(req, AUTH_MAX_FIELD);
	if (!ipc_end(req))
		return -1;
	int r = resolve_sender(authd.db_dir, user, address);
	if (r < 0) {
		conn_abort(c, "sender check: user database unreadable");
		return 0;
	}
	if (r == 0)
		log_info("sender: user=%.320s address=%.320s result=refused (not the user's address)",
			 user, address);
	struct ipc_msg m;
	ipc_msg_init(&m, AUTH_SENDER_RES, req->hdr.id);
	ipc_put_u32(&m, (uint32_t)r);
	conn_reply(c, &m);
	return 0;
}
