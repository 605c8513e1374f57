/* handle_rcpt.c — AUTH_RCPT_REQ: is this a recipient we accept mail for? */
#include "authd/authd.h"
#include "authd/resolve.h"
#include "common/log.h"
#include "common/util.h"

struct rcpt_job {
	struct addr_lookup a;	/* first */
	enum rcpt_kind kind;
	char host[USERDB_MAX_HOST + 1];	/* RCPT_RELAY: the mailbox host */
	char error[200];
};

static void work(struct lookup *l)
{
	struct rcpt_job *j = (struct rcpt_job *)l;
	j->kind = resolve_rcpt(authd.dir, authd.site, j->a.address, j->host);
	if (j->kind == RCPT_TEMPFAIL)
		strlcpy_t(j->error, dir_last_error(), sizeof j->error);
}

static void reply(struct conn *c, struct lookup *l)
{
	struct rcpt_job *j = (struct rcpt_job *)l;
	if (j->kind == RCPT_TEMPFAIL)
		log_err("rcpt: address=%.320s result=tempfail (directory: %s)", j->a.address, j->error);
	else
		log_debug("rcpt: address=%.320s kind=%d", j->a.address, (int)j->kind);
	struct ipc_msg m;
	ipc_msg_init(&m, AUTH_RCPT_RES, j->a.l.id);
	ipc_put_u32(&m, j->kind);
	ipc_put_str(&m, j->kind == RCPT_RELAY ? j->host : "");
	conn_reply(c, &m);
}

int handle_rcpt(struct conn *c, struct ipc_msg *req)
{
	return lookup_address(c, req, sizeof(struct rcpt_job), work, reply);
}
