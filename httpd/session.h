/* session.h — a user's mail process: serves the requests the front relays
 * over one channel (proto.h), confined to the user's Maildir. It ends when
 * the front closes the channel. */
#ifndef TERN_HTTPD_SESSION_H
#define TERN_HTTPD_SESSION_H

#include "httpd/httpd.h"

struct session_conf {
	char *base_url;		/* https://host[:port] */
	struct jmap_limits lim;
	uint64_t ping_min_s;	/* shortest push ping interval */
};

void session_conf_load(struct session_conf *sc, const struct instance *in, const struct cfg *conf);
/* Serve fd for user until the front closes it; the exit status. */
int session_run(int fd, const char *user, const struct session_conf *sc);

#endif
