/* listen.h — the TCP sockets the master binds for the network daemons: every
 * service named in the process table, on every `listen` address, at
 * port_base + the service's standard port. */
#ifndef TERN_MAILCTL_LISTEN_H
#define TERN_MAILCTL_LISTEN_H

#include "common/instance.h"

#include <stddef.h>

struct listener {
	const char *service;	/* "smtp", ... */
	char addr[64];
	unsigned port;
	int fd;
};

struct listeners {
	struct listener *v;
	size_t n;
};

/* Bind and listen on all of them. 0, or -1 after printing a one-line error that
 * names the port and what to do (nothing is left open). */
int listeners_open(const struct instance *in, struct listeners *ls);
void listeners_close(struct listeners *ls);
/* "smtp:5,smtp:6,submission:7" for the services of one process; caller frees
 * (NULL when the process listens on nothing). */
char *listeners_env(const struct listeners *ls, const char *const *services);

#endif
