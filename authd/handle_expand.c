/* handle_expand.c — AUTH_EXPAND_REQ: the final mailboxes and forwarding targets of an address. */
#include "authd/authd.h"
#include "authd/resolve.h"
#include "common/log.h"
#include "common/util.h"

#include <stdlib.h>

struct expand_job {
	struct addr_lookup a;	/* first */
	enum expand_status st;
	struct expansion x;
	char error[200];
};

static const char *status_name(enum expand_status st)
{
	switch (st) {
	case EXPAND_OK: return "ok";
	case EXPAND_UNKNOWN: return "unknown";
	case EXPAND_LOOP: return "loop";
	default: return "tempfail";
	}
}

void expansion_put(struct ipc_msg *m, enum expand_status st, const struct expansion *x)
{
	ipc_put_u32(m, st);
	size_t n = st == EXPAND_OK ? x->n : 0;
	ipc_put_u32(m, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		ipc_put_str(m, x->box[i].mailbox);
		ipc_put_str(m, x->box[i].folder);
		ipc_put_u64(m, x->box[i].quota);
		ipc_put_u32(m, x->box[i].remote);
	}
}

void expansion_log(const char *address, enum expand_status st, const struct expansion *x,
		   const char *error)
{
	if (st != EXPAND_OK || x->remote)
		log_info("expand: address=%.320s result=%s mailboxes=%zu remote=%u%s%s%s", address,
			 status_name(st), st == EXPAND_OK ? x->n - x->remote : 0, x->remote,
			 *error ? " (directory: " : "", error, *error ? ")" : "");
}

static void work(struct lookup *l)
{
	struct expand_job *j = (struct expand_job *)l;
	j->st = resolve_expand(authd.dir, authd.site, j->a.address, authd.max_depth, &j->x);
	if (j->st == EXPAND_TEMPFAIL)
		strlcpy_t(j->error, dir_last_error(), sizeof j->error);
}

static void reply(struct conn *c, struct lookup *l)
{
	struct expand_job *j = (struct expand_job *)l;
	const struct expansion *x = &j->x;
	enum expand_status st = j->st;
	expansion_log(j->a.address, st, x, j->error);
	struct ipc_msg m;
	ipc_msg_init(&m, AUTH_EXPAND_RES, j->a.l.id);
	expansion_put(&m, st, x);
	conn_reply(c, &m);
}

int handle_expand(struct conn *c, struct ipc_msg *req)
{
	return lookup_address(c, req, sizeof(struct expand_job), work, reply);
}
