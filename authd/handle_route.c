/* handle_route.c — AUTH_ROUTE_REQ: RCPT and, for a local recipient, its
 * expansion, in one lookup. The queue asks this once per recipient and passes
 * the mailboxes on with the job, so the local agent does not ask again. */
#include "authd/authd.h"
#include "authd/resolve.h"
#include "common/log.h"
#include "common/util.h"

struct route_job {
	struct addr_lookup a;	/* first */
	enum rcpt_kind kind;
	char host[USERDB_MAX_HOST + 1];	/* RCPT_RELAY: the mailbox host */
	enum expand_status st;
	struct expansion x;
	char error[200];
};

static void work(struct lookup *l)
{
	struct route_job *j = (struct route_job *)l;
	j->kind = resolve_rcpt(authd.dir, authd.site, j->a.address, j->host);
	j->st = EXPAND_UNKNOWN;
	if (j->kind == RCPT_LOCAL)
		j->st = resolve_expand(authd.dir, authd.site, j->a.address, authd.max_depth, &j->x);
	if (j->kind == RCPT_TEMPFAIL || j->st == EXPAND_TEMPFAIL)
		strlcpy_t(j->error, dir_last_error(), sizeof j->error);
}

static void reply(struct conn *c, struct lookup *l)
{
	struct route_job *j = (struct route_job *)l;
	if (j->kind == RCPT_TEMPFAIL)
		log_err("route: address=%.320s result=tempfail (directory: %s)", j->a.address, j->error);
	else
		log_debug("route: address=%.320s kind=%d", j->a.address, (int)j->kind);
	if (j->kind == RCPT_LOCAL)
		expansion_log(j->a.address, j->st, &j->x, j->error);
	struct ipc_msg m;
	ipc_msg_init(&m, AUTH_ROUTE_RES, j->a.l.id);
	ipc_put_u32(&m, j->kind);
	ipc_put_str(&m, j->kind == RCPT_RELAY ? j->host : "");
	expansion_put(&m, j->st, &j->x);
	conn_reply(c, &m);
}

int handle_route(struct conn *c, struct ipc_msg *req)
{
	return lookup_address(c, req, sizeof(struct route_job), work, reply);
}
