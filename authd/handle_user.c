/* handle_user.c — AUTH_USER_REQ: does this mailbox exist, and its quota. */
#include "authd/authd.h"
#include "common/auth_proto.h"
#include "common/log.h"
#include "common/userdb.h"

int handle_user(struct conn *c, struct ipc_msg *req)
{
	const char *user = ipc_get_str(req, AUTH_MAX_FIELD);
	char u[USERDB_MAX_ADDR];
	uint64_t quota = 0;
	int r = 0;
	if (!ipc_end(req))
		return -1;
	if (userdb_norm_address(user, u))
		r = userdb_user_get(authd.db_dir, u, &quota);
	if (r < 0) {
		conn_abort(c, "user lookup: user database unreadable");
		return 0;
	}
	struct ipc_msg m;
	ipc_msg_init(&m, AUTH_USER_RES, req->hdr.id);
	ipc_put_u32(&m, r == 1 ? 1 : 0);
	ipc_put_u64(&m, r == 1 ? quota : 0);
	conn_reply(c, &m);
	return 0;
}
