/* lookup.c — requests answered from the directory: inline or on the lookup
 * threads (authd.h, struct lookup). */
#include "authd/authd.h"
#include "common/util.h"
#include "common/workq.h"

#include <stdlib.h>

static void lookup_work(void *arg)
{
	struct lookup *l = arg;
	l->work(l);
}

/* Loop thread, after lookup_work. */
static void lookup_done(void *arg)
{
	struct lookup *l = arg;
	struct conn *c = conn_job_finish(&l->link);
	if (c) {
		l->reply(c, l);
		conn_settle(c);
	}
	free(l);
}

void lookup_submit(struct conn *c, struct lookup *l)
{
	if (!authd.lookq) {
		/* Inside the read path: the reader closes c if reply() broke it. */
		l->work(l);
		l->reply(c, l);
		free(l);
		return;
	}
	if (!conn_job_add(c, &l->link)) {
		free(l);
		return;
	}
	workq_submit(authd.lookq, lookup_work, lookup_done, l);
}

int lookup_address(struct conn *c, struct ipc_msg *req, size_t size,
		   void (*work)(struct lookup *l), void (*reply)(struct conn *c, struct lookup *l))
{
	const char *address = ipc_get_str(req, AUTH_MAX_FIELD);
	if (!ipc_end(req))
		return -1;
	struct addr_lookup *a = xcalloc(1, size);
	a->l.id = req->hdr.id;
	a->l.work = work;
	a->l.reply = reply;
	strlcpy_t(a->address, address, sizeof a->address);
	lookup_submit(c, &a->l);
	return 0;
}
