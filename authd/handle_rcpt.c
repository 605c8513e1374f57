/* handle_rcpt.c — AUTH_RCPT_REQ: is this a recipient we accept mail for? */
#include "authd/authd.h"
#include "authd/resolve.h"
#include "common/log.h"
#include "common/util.h"

struct rcpt_job {
	struct lookup l;	/* first */
	char address[AUTH_MAX_FIELD + 1];
	enum rcpt_kind kind;
	char host[USERDB_MAX_HOST + 1];	/* RCPT_RELAY: the mailbox host */
	char error[200];
};

static void work(struct lookup *l)
{
	struct rcpt_job *j = (struct rcpt_job *)l;
	j->kind = resolve_rcpt(authd.dir, authd.site, j->address, j->host);
	if (j->kind == RCPT_TEMPFAIL)
		strlcpy_t(j->error, dir_last_error(), sizeof j->error);
}

static void reply(struct conn *c, struct lookup *l)
{
	struct rcpt_job *j = (struct rcpt_job *)l;
	if (j->kind == RCPT_TEMPFAIL)
		log_err("rcpt: address=%.320s result=tempfail (directory: %s)", j->address, j->error);
	else
		log_debug("rcpt: address=%.320s kind=%d", j->address, (int)j->kind);
	struct ipc_msg m;
	ipc_msg_init(&m, AUTH_RCPT_RES, j->l.id);
	ipc_put_u32(&m, j->kind);
	ipc_put_str(&m, j->kind == RCPT_RELAY ? j->host : "");
	conn_reply(c, &m);
}

int handle_rcpt(struct conn *c, struct ipc_msg *req)
{
	const char *address = ipc_get_str(req, AUTH_MAX_FIELD);
	if (!ipc_end(req))
		return -1;
	struct rcpt_job *j = xcalloc(1, sizeof *j);
	j->l.id = req->hdr.id;
	j->l.work = work;
	j->l.reply = reply;
	strlcpy_t(j->address, address, sizeof j->address);
	lookup_submit(c, &j->l);
	return 0;
}
