/* sts_client.c — the remote agent asks the MTA-STS fetcher (see sts.h). Each
 * delivery thread keeps its own connection; any failure is "no policy" for
 * this message (RFC 8461 5: a policy that cannot be had does not stop mail),
 * logged, and the next query reconnects. */
#include "deliverd/sts.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/util.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The fetcher may be fetching over HTTPS (up to 20 s) when we ask. */
#define STS_ANSWER_WAIT_MS 30000

static char *sock_path;
static bool sts_enabled;
static __thread int conn = -1;

void sts_client_init(const char *path, bool enabled)
{
	sock_path = xstrdup(path);
	sts_enabled = enabled;
}

static bool read_answer(struct ipc_msg *m, struct sts_policy *p)
{
	if (m->hdr.type != STS_ANSWER)
		return false;
	uint32_t mode = ipc_get_u32(m);
	p->max_age = ipc_get_u64(m);
	const char *id = ipc_get_str(m, STS_ID_MAX);
	uint32_t n = ipc_get_u32(m);
	if (m->bad || mode > STS_ENFORCE || n > STS_MX_MAX || !id)
		return false;
	p->mode = (enum sts_mode)mode;
	snprintf(p->id, sizeof p->id, "%s", id);
	for (uint32_t i = 0; i < n; i++) {
		const char *mx = ipc_get_str(m, 255);
		if (!mx)
			return false;
		snprintf(p->mx[i], sizeof p->mx[i], "%s", mx);
	}
	p->nmx = n;
	return ipc_end(m);
}

void sts_lookup(const char *domain, struct sts_policy *p)
{
	memset(p, 0, sizeof *p);
	if (!sts_enabled)
		return;
	if (conn < 0 && (conn = ipc_connect(sock_path)) < 0) {
		log_warn("mta-sts: cannot reach the policy fetcher (%s): no policy for %s",
			 sock_path, domain);
		return;
	}
	struct ipc_msg q, a;
	ipc_msg_init(&q, STS_QUERY, 0);
	ipc_put_str(&q, domain);
	int rc = ipc_send(conn, &q);
	ipc_msg_free(&q);
	if (rc == 0 && ipc_recv(conn, &a, STS_ANSWER_WAIT_MS) == 0) {
		bool ok = read_answer(&a, p);
		ipc_msg_free(&a);
		if (ok)
			return;
		memset(p, 0, sizeof *p);
	}
	log_warn("mta-sts: no answer from the policy fetcher for %s: no policy this time", domain);
	close(conn);
	conn = -1;
}
