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
#include <stdint.h>

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

/* The same rule for a loop that polls or blocks in accept() itself (the
 * master's control socket, hand-off and URLAUTH sockets, the MTA-STS
 * fetcher): the gate accepts, and after an out-of-resources failure stays
 * shut for the pause, during which the loop must not watch the socket. */
struct accept_gate {
	const char *name;	/* in the log lines */
	uint64_t until;		/* now_ms() at which the pause ends; 0: none */
	unsigned pause_ms;	/* 0 outside a burst */
	unsigned failures;	/* accept failures in this burst */
	bool burst;
};
/* accept4(lsock, flags): the new fd, or -1 when there is none to take now
 * (EAGAIN, an error of that one connection: try again when the socket is
 * readable) or the process is out of descriptors (the gate shuts). */
int accept_gate_accept(struct accept_gate *g, int lsock, int flags);
/* -1 while the gate is open (watch the socket); else the milliseconds left
 * of the pause (leave the socket out of poll, wait at most that long). */
int accept_gate_wait_ms(struct accept_gate *g);

/* For tests: whether accept()'s errno ends only that one connection. */
bool listener_error_is_transient(int err);

#endif
