/* listener.h — accepting connections on a listening socket in a libevent
 * loop, the same way in every daemon. When the process (EMFILE) or the system
 * (ENFILE, ENOBUFS, ENOMEM) is out of descriptors or memory, the pending
 * connection stays in the kernel's queue, so accepting again at once would
 * spin: the listener pauses (100 ms doubling to 1 s), keeps its socket, retries
 * until accepting works again, and logs one line when such a burst starts and
 * one when it ends. Errors that belong to one connection (ECONNABORTED,
 * EPROTO, a network error the peer caused, EPERM from a firewall) are passed
 * over and the next connection accepted. */
#ifndef TERN_LISTENER_H
#define TERN_LISTENER_H

#include <stdbool.h>

struct event_base;
struct evconnlistener;
struct listener;
struct sockaddr;

/* fd is accepted nonblocking and close-on-exec. */
typedef void (*listener_cb)(int fd, struct sockaddr *sa, int salen, void *arg);

/* Watch fd (already listening; closed by listener_free). name appears in the
 * log lines. Fatal if libevent cannot watch it. */
struct listener *listener_new(struct event_base *base, int fd, const char *name, listener_cb cb,
			      void *arg);
/* The same pause and logging for a listener libevent made for someone else
 * (evhttp), which stays its owner's to free. */
struct listener *listener_adopt(struct evconnlistener *ev, const char *name);
/* The owner's wish (max clients reached, draining): accepting resumes only
 * when the owner wants it and no pause is running. */
void listener_set_accepting(struct listener *l, bool on);
void listener_free(struct listener *l);

/* For tests: whether accept()'s errno ends only that one connection. */
bool listener_error_is_transient(int err);

#endif
