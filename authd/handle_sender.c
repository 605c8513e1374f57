/* handle_sender.c — AUTH_SENDER_REQ: may this authenticated user use this
 * envelope sender (its own address, a +detail of it, or an alias leading to it)? */
#include "authd/authd.h"
#include "authd/resolve.h"
#include "common/log.h"
#include "common/util.h"

struct sender_job {
	struct lookup l;	/* first */
	char user[AUTH_MAX_FIELD + 1];
	char address[AUTH_MAX_FIELD + 1];
	int result;
	char error[200];
};

static void work(struct lookup *l)
{
	struct sender_job *j = (struct sender_job *)l;
	j->result = resolve_sender(authd.dir, j->user, j->address);
	if (j->result < 0)
		strlcpy_t(j->error, dir_last_error(), sizeof j->error);
}

static void reply(struct conn *c, struct lookup *l)
{
	struct sender_job *j = (struct sender_job *)l;
	if (j->result < 0) {
		log_err("sender: user=%.320s result=tempfail (directory: %s)", j->user, j->error);
		conn_abort(c, "sender check: the directory cannot answer");
		return;
	}
	if (j->result == 0)
		log_info("sender: user=%.320s address=%.320s result=refused (not the user's address)",
			 j->user, j->address);
	struct ipc_msg m;
	ipc_msg_init(&m, AUTH_SENDER_RES, j->l.id);
	ipc_put_u32(&m, (uint32_t)j->result);
	conn_reply(c, &m);
}

int handle_sender(struct conn *c, struct ipc_msg *req)
{
	const char *user = ipc_get_str(req, AUTH_MAX_FIELD);
	const char *address = ipc_get_str(req, AUTH_MAX_FIELD);
	if (!ipc_end(req))
		return -1;
	struct sender_job *j = xcalloc(1, sizeof *j);
	j->l.id = req->hdr.id;
	j->l.work = work;
	j->l.reply = reply;
	strlcpy_t(j->user, user, sizeof j->user);
	strlcpy_t(j->address, address, sizeof j->address);
	lookup_submit(c, &j->l);
	return 0;
}
