/* remote.h — the remote delivery agent (`tern-deliverd --remote`): SMTP to other
 * servers, chosen by relay host or MX, with STARTTLS per policy, DKIM signing of
 * our own domains, connection reuse and a per-destination concurrency limit. */
#ifndef TERN_DELIVERD_REMOTE_H
#define TERN_DELIVERD_REMOTE_H

#include "common/config.h"
#include "common/instance.h"

struct event_base;

struct agent *remote_run(const struct instance *in, const struct cfg *conf,
			 struct event_base *base, const char *queue_sock);
/* Read keys and secrets (before privileges are dropped). */
void remote_load(const struct instance *in, const struct cfg *conf);

#endif
