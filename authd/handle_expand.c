/* handle_expand.c — AUTH_EXPAND_REQ: the final mailboxes and forwarding targets of an address. */
#include "authd/authd.h"
#include "authd/resolve.h"
#include "common/log.h"
#include "common/util.h"

#include <stdlib.h>

static const char *status_name(enum expand_status st)
{
	switch (st) {
	case EXPAND_OK: return "ok";
	case EXPAND_UNKNOWN: return "unknown";
	case EXPAND_LOOP: return "loop";
	default: return "tempfail";
	}
}

int handle_expand(struct conn *c, struct ipc_msg *req)
{
	const char *address = ipc_get_str(req, AUTH_MAX_FIELD);
	if (!ipc_end(req))
		return -1;
	struct expansion *x = xmalloc(sizeof *x);
	enum expand_status st = resolve_expand(authd.db_dir, address, authd.max_depth, x);
	if (st != EXPAND_OK || x->remote)
		log_info("expand: address=%.320s result=%s mailboxes=%zu remote=%u", address,
			 status_name(st), st == EXPAND_OK ? x->n - x->remote : 0, x->remote);
	struct ipc_msg m;
	ipc_msg_init(&m, AUTH_EXPAND_RES, req->hdr.id);
	ipc_put_u32(&m, st);
	size_t n = st == EXPAND_OK ? x->n : 0;
	ipc_put_u32(&m, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		ipc_put_str(&m, x->box[i].mailbox);
		ipc_put_str(&m, x->box[i].folder);
		ipc_put_u64(&m, x->box[i].quota);
		ipc_put_u32(&m, x->box[i].remote);
	}
	free(x);
	conn_reply(c, &m);
	return 0;
}
