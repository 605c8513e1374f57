/* handle_user.c — AUTH_USER_REQ: does this mailbox exist, and its quota. */
#include "authd/authd.h"
#include "common/auth_proto.h"
#include "common/directory.h"
#include "common/log.h"
#include "common/util.h"

struct user_job {
	struct lookup l;	/* first */
	char user[AUTH_MAX_FIELD + 1];
	struct userdb_user u;
	int result;
	char error[200];
};

static void work(struct lookup *l)
{
	struct user_job *j = (struct user_job *)l;
	char u[USERDB_MAX_ADDR];
	if (userdb_norm_address(j->user, u))
		j->result = dir_user_get(authd.dir, u, &j->u);
	if (j->result < 0)
		strlcpy_t(j->error, dir_last_error(), sizeof j->error);
}

static void reply(struct conn *c, struct lookup *l)
{
	struct user_job *j = (struct user_job *)l;
	if (j->result < 0) {
		log_err("user: user=%.320s result=tempfail (directory: %s)", j->user, j->error);
		conn_abort(c, "user lookup: the directory cannot answer");
		return;
	}
	struct ipc_msg m;
	ipc_msg_init(&m, AUTH_USER_RES, j->l.id);
	ipc_put_u32(&m, j->result == 1 ? 1 : 0);
	ipc_put_u64(&m, j->result == 1 ? j->u.quota : 0);
	conn_reply(c, &m);
}

int handle_user(struct conn *c, struct ipc_msg *req)
{
	const char *user = ipc_get_str(req, AUTH_MAX_FIELD);
	if (!ipc_end(req))
		return -1;
	struct user_job *j = xcalloc(1, sizeof *j);
	j->l.id = req->hdr.id;
	j->l.work = work;
	j->l.reply = reply;
	strlcpy_t(j->user, user, sizeof j->user);
	lookup_submit(c, &j->l);
	return 0;
}
