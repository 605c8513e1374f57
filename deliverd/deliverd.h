/* deliverd.h — delivery agents. `tern-deliverd --local` (local.c, maildir.c)
 * writes into Maildirs as the mail store account; `--remote` (SMTP client) is
 * a later part and shares this binary and deliverd.conf. */
#ifndef TERN_DELIVERD_H
#define TERN_DELIVERD_H

#include "common/config.h"
#include "common/mailcrypt.h"

#include <stdbool.h>
#include <stdint.h>

struct event_base;

struct agent;

extern const struct cfg_key deliverd_settings[];	/* settings.c: both agents */
/* The selector dkim_selectors (the list sel) names for domain, NULL if none;
 * read by the remote agent and by `mailctl dkim rotate`. */
const char *deliverd_dkim_selector(const char *domain, char **sel, size_t nsel);

struct dconf {
	char *mail_dir;
	char *hostname;
	uint64_t workers;
	unsigned max_hops;
	bool quota_bounce;
	struct mc_opts crypt;		/* encryption at rest (tern.conf encrypt_*) */
};

struct agent *local_run(struct dconf *c, struct event_base *base, const char *queue_sock,
			const char *auth_sock);

#endif
