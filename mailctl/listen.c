/* listen.c — bind the listening sockets before daemonizing, so that a port in use
 * is reported by `mailctl start` itself. */
#include "mailctl/listen.h"
#include "mailctl/commands.h"
#include "mailctl/procs.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define LISTEN_BACKLOG 511

/* Services named by the process table, each once, in table order. */
static size_t table_services(const char **out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < nprocs; i++)
		for (const char *const *s = procs[i].listen; *s; s++) {
			size_t k = 0;
			while (k < n && strcmp(out[k], *s))
				k++;
			if (k == n && n < max)
				out[n++] = *s;
		}
	return n;
}

static int bind_one(const struct instance *in, struct listener *l)
{
	struct sockaddr_storage ss;
	socklen_t slen;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, l->addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)l->port);
		slen = sizeof *s4;
	} else if (inet_pton(AF_INET6, l->addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)l->port);
		slen = sizeof *s6;
	} else {
		return cmd_error("listen address \"%s\" is not an IP address: fix listen in %s/tern.conf",
				 l->addr, in->dir);
	}
	int one = 1;
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return cmd_error("cannot make a socket for %s: %s", l->addr, strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, slen) < 0 || listen(fd, LISTEN_BACKLOG) < 0) {
		int e = errno;
		close(fd);
		if (e == EADDRINUSE)
			return cmd_error("port %u (%s) on %s is already in use by another program: stop "
					 "it, or set another port_base in %s/tern.conf", l->port,
					 l->service, l->addr, in->dir);
		if (e == EACCES)
			return cmd_error("may not bind port %u (%s) on %s: ports below 1024 need root; "
					 "start as root or set port_base in %s/tern.conf", l->port,
					 l->service, l->addr, in->dir);
		if (e == EADDRNOTAVAIL)
			return cmd_error("address %s is not on this host: fix listen in %s/tern.conf",
					 l->addr, in->dir);
		return cmd_error("cannot listen on %s port %u (%s): %s", l->addr, l->port,
				 l->service, strerror(e));
	}
	l->fd = fd;
	return 0;
}

/* The internal port exists only on a mailbox host: its front-ends relay
 * their users' mail to it. */
static bool service_wanted(const struct instance *in, const struct service *sv)
{
	return strcmp(sv->name, "smtp-internal") || !strcmp(cfg_str(&in->conf, "role"), "mailbox");
}

int listeners_open(const struct instance *in, struct listeners *ls)
{
	const char *names[16];
	char **addrs;
	size_t nn = table_services(names, ARRAY_LEN(names));
	size_t na = cfg_list(&in->conf, "listen", &addrs);
	ls->v = xcalloc(nn * na + 1, sizeof *ls->v);
	ls->n = 0;
	int r = 0;
	for (size_t i = 0; i < nn && !r; i++) {
		const struct service *sv = service_find(names[i]);
		if (!sv)
			fatal("process table names unknown service %s (bug)", names[i]);
		if (!service_wanted(in, sv))
			continue;
		for (size_t a = 0; a < na && !r; a++) {
			struct listener *l = &ls->v[ls->n];
			l->service = sv->name;
			l->port = in->port_base + sv->port;
			strlcpy_t(l->addr, addrs[a], sizeof l->addr);
			l->fd = -1;
			r = bind_one(in, l);
			if (!r)
				ls->n++;
		}
	}
	cfg_list_free(addrs, na);
	if (r)
		listeners_close(ls);
	return r ? -1 : 0;
}

void listeners_close(struct listeners *ls)
{
	for (size_t i = 0; i < ls->n; i++)
		if (ls->v[i].fd >= 0)
			close(ls->v[i].fd);
	free(ls->v);
	ls->v = NULL;
	ls->n = 0;
}

char *listeners_env(const struct listeners *ls, const char *const *services)
{
	char *env = NULL;
	for (const char *const *s = services; *s; s++)
		for (size_t i = 0; i < ls->n; i++) {
			if (strcmp(ls->v[i].service, *s) || ls->v[i].fd < 0)
				continue;
			char *next = xasprintf("%s%s%s:%d", env ? env : "", env ? "," : "", *s,
					       ls->v[i].fd);
			free(env);
			env = next;
		}
	return env;
}
