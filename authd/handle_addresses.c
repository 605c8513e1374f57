/* handle_addresses.c — AUTH_ADDRESSES_REQ: the addresses one user may send
 * as (its own and the aliases leading to it), for JMAP's Identity/get. The
 * answer comes from resolve_sender, so it always agrees with the SENDER
 * check smtpd and httpd's submission make. */
#include "authd/authd.h"
#include "authd/resolve.h"
#include "common/log.h"
#include "common/util.h"

struct addresses_job {
	struct addr_lookup a;	/* first; a.address is the user */
	char addr[AUTH_MAX_ADDRESSES][USERDB_MAX_ADDR];
	int n;
	char error[200];
};

static void work(struct lookup *l)
{
	struct addresses_job *j = (struct addresses_job *)l;
	j->n = resolve_addresses(authd.dir, j->a.address, j->addr, AUTH_MAX_ADDRESSES);
	if (j->n < 0)
		strlcpy_t(j->error, dir_last_error(), sizeof j->error);
}

static void reply(struct conn *c, struct lookup *l)
{
	struct addresses_job *j = (struct addresses_job *)l;
	if (j->n < 0) {
		log_err("addresses: user=%.320s result=tempfail (directory: %s)", j->a.address, j->error);
		conn_abort(c, "address list: the directory cannot answer");
		return;
	}
	struct ipc_msg m;
	ipc_msg_init(&m, AUTH_ADDRESSES_RES, j->a.l.id);
	ipc_put_u32(&m, (uint32_t)j->n);
	for (int i = 0; i < j->n; i++)
		ipc_put_str(&m, j->addr[i]);
	conn_reply(c, &m);
}

int handle_addresses(struct conn *c, struct ipc_msg *req)
{
	return lookup_address(c, req, sizeof(struct addresses_job), work, reply);
}
