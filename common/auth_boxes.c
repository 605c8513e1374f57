/* auth_boxes.c — a list of mailboxes on the wire (auth_boxes.h). Its own file
 * so the queue codec can carry the list without linking the auth client. */
#include "common/auth_boxes.h"
#include "common/auth_proto.h"
#include "common/ipc.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

void auth_boxes_free(struct auth_mailbox *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(b[i].mailbox);
		free(b[i].folder);
	}
	free(b);
}

struct auth_mailbox *auth_boxes_dup(const struct auth_mailbox *b, size_t n)
{
	struct auth_mailbox *x = xcalloc(n ? n : 1, sizeof *x);
	for (size_t i = 0; i < n; i++) {
		x[i] = b[i];
		x[i].mailbox = xstrdup(b[i].mailbox);
		x[i].folder = xstrdup(b[i].folder);
	}
	return x;
}

void auth_boxes_put(struct ipc_msg *m, const struct auth_mailbox *b, size_t n)
{
	ipc_put_u32(m, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		ipc_put_str(m, b[i].mailbox);
		ipc_put_str(m, b[i].folder);
		ipc_put_u64(m, b[i].quota);
		ipc_put_u32(m, b[i].remote);
	}
}

size_t auth_boxes_size(const struct auth_mailbox *b, size_t n)
{
	size_t s = 9;	/* a field is a tag byte, a 4-byte length and the value */
	for (size_t i = 0; i < n; i++)
		s += 32 + strlen(b[i].mailbox) + strlen(b[i].folder);
	return s;
}

bool auth_boxes_get(struct ipc_msg *m, size_t max, struct auth_mailbox **b, size_t *n)
{
	uint32_t want = ipc_get_u32(m);
	*b = NULL;
	*n = 0;
	/* each box takes 32 bytes and its strings: a count the rest of the
	 * message cannot hold is refused before anything is allocated */
	if (m->bad || want > max || want > (m->hdr.len - m->rpos) / 32) {
		m->bad = true;
		return false;
	}
	struct auth_mailbox *x = xcalloc(want ? want : 1, sizeof *x);
	size_t got = 0;
	while (got < want) {
		const char *box = ipc_get_str(m, AUTH_MAX_FIELD);
		const char *folder = ipc_get_str(m, AUTH_MAX_FIELD);
		uint64_t q = ipc_get_u64(m);
		uint32_t remote = ipc_get_u32(m);
		if (m->bad || remote > 1) {
			m->bad = true;
			auth_boxes_free(x, got);
			return false;
		}
		x[got].mailbox = xstrdup(box);
		x[got].folder = xstrdup(folder);
		x[got].quota = q;
		x[got++].remote = remote;
	}
	*b = x;
	*n = got;
	return true;
}
