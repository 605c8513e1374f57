/* idlepark.h — the mail role's half of parking IDLE sessions (idlepark.c):
 * it forwards a session's park to the holder with a sealed ticket, and takes
 * the holder's wakes back. docs/ARCHITECTURE.md, "Idle sessions". */
#ifndef TERN_IMAPD_IDLEPARK_H
#define TERN_IMAPD_IDLEPARK_H

#include "imapd/park.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ipc_msg;
struct pollfd;

/* What the mail role does with a session to run again: fork a session
 * process that resumes ps on fd (why: IDLE_WHY_*). Takes fd and ps. */
typedef void (*idlepark_resume_fn)(int fd, struct park_state *ps, uint32_t why);

/* What the mail role does with a group's update (IDLE_UPDATE): fork a
 * process of ps->user that computes it (idle_update) and answers on the
 * far end of a socketpair; returns the near end, or -1. shared: the group
 * has several sessions (the update claims no \Recent for them). */
typedef int (*idlepark_update_fn)(const struct park_state *ps, bool shared, pid_t *pid);

/* Updates computed at once; more wait for a later sweep of the holder. */
#define IDLEPARK_UPDATES_MAX	16

/* path: RUN/imap-idle.sock; idle_max: seconds an IDLE may last. */
void idlepark_init(const char *path, uint64_t idle_max, idlepark_resume_fn resume,
		   idlepark_update_fn update);
/* The update processes' sockets to poll (at most IDLEPARK_UPDATES_MAX into
 * p); how many. */
size_t idlepark_update_fds(struct pollfd *p);
/* Serve those of p[0..n) that are ready (n as idlepark_update_fds said). */
void idlepark_updates(const struct pollfd *p, size_t n);
/* The connection to the holder to poll for wakes, or -1. */
int idlepark_fd(void);
/* Called once per turn of the mail role's loop: without a connection to the
 * holder (it restarted, or stopped reading), connect again, at most once a
 * second, so that what it holds can be woken. */
void idlepark_tick(void);
/* That connection is readable: resume what the holder woke. */
void idlepark_wakes(void);
/* A session of user sent IDLE_PARK_DIR (m) on its channel: read the rest of
 * its park and pass it to the holder (or resume it at once when the holder
 * cannot take it). 0, or -1 when the channel is broken. */
int idlepark_from_session(int chan, struct ipc_msg *m, const char *user);
/* Close the holder connection and the update sockets in a forked child. */
void idlepark_child(void);

#endif
