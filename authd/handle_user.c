/* handle_user.c — AUTH_USER_REQ: does this mailbox exist, and its quota. */
#include "authd/authd.h"
#include "common/auth_proto.h"
#include "common/directory.h"
#include "common/log.h"
#include "common/util.h"

struct user_job {
	struct addr_lookup a;	/* first; a.address is the user */
	struct userdb_user u;
	int result;
	char error[200];
};

static void work(struct lookup *l)
{
	struct user_job *j = (struct user_job *)l;
	char u[USERDB_MAX_ADDR];
	if (userdb_norm_address(j->a.address, u))
		j->result = dir_user_get(authd.dir, u, &j->u);
	if (j->result < 0)
		strlcpy_t(j->error, dir_last_error(), sizeof j->error);
}

static void reply(struct conn *c, struct lookup *l)
{
	struct user_job *j = (struct user_job *)l;
	if (j->result < 0) {
		log_err("user: user=%.320s result=tempfail (directory: %s)", j->a.address, j->error);
		conn_abort(c, "user lookup: the directory cannot answer");
		return;
	}
	struct ipc_msg m;
	ipc_msg_init(&m, AUTH_USER_RES, j->a.l.id);
	ipc_put_u32(&m, j->result == 1 ? 1 : 0);
	ipc_put_u64(&m, j->result == 1 ? j->u.quota : 0);
	conn_reply(c, &m);
}

int handle_user(struct conn *c, struct ipc_msg *req)
{
	return lookup_address(c, req, sizeof(struct user_job), work, reply);
}
