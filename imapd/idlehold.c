/* idlehold.c — the holder of parked IDLE sessions (`tern-imapd --idle`):
 * one process for all of them, keeping per session only the client
 * connection, its sealed session ticket and the deadline, and per group of
 * sessions parked in one state (one folder, one view ticket) the mtimes of
 * new/ and cur/ that state was synced against. Every IDLE_HOLD_POLL_MS it
 * fstats the directories of each watched folder (one watch per folder) and
 * asks the mail role, once per group whose folder moved, for the untagged
 * responses that group's clients are owed (IDLE_UPDATE), which it writes to
 * each of them; it hands back (IDLE_WAKE) a session whose client sent
 * something or whose deadline came. Channel: imapd/idlehold.h. */
#include "imapd/idlehold.h"
#include "common/daemon.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/privdrop.h"
#include "common/sandbox.h"
#include "common/util.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* One folder watched: its new/ and cur/ (O_PATH descriptors). */
struct watch {
	dev_t dev;
	ino_t ino;		/* of new/ */
	int dir[2];
	struct timespec now[2];	/* their mtimes at the last sweep */
	size_t refs;
	struct watch *next;
};

struct mailconn;

/* Sessions parked on one folder in one state: the same view ticket (what
 * their clients were told, sealed by the mail role), so one update serves
 * them all. */
struct group {
	uint64_t id;
	struct watch *w;
	unsigned char *view;
	size_t nview;
	struct timespec seen[2];	/* the mtimes that state was synced against */
	bool racy;		/* seen was too recent to trust: look once more */
	size_t refs;
	struct mailconn *busy;	/* computing its update, or NULL */
	struct group *next;
};

struct parked {
	int fd;
	struct event *ev;
	struct group *g;
	unsigned char *ticket;	/* the session's half */
	size_t nticket;
	time_t deadline;
	struct mailconn *from;	/* the mail role that parked it (NULL: gone) */
	struct parked *prev, *next;
};

/* A connection of a mail role (one per generation). */
struct mailconn {
	struct ipc_conn ic;
	struct event *rev, *wev;
	int dir[2];		/* IDLE_HOLD_DIR received for the next IDLE_HOLD */
	struct timespec seen[2];
	struct mailconn *next;
};

static struct {
	struct event_base *base;
	uid_t mail_uid;
	struct watch *watches;
	struct group *groups;
	uint64_t next_group;
	struct parked *parked;
	size_t nparked;
	struct mailconn *conns;
} H;

static bool ts_eq(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

static struct timespec mtime_of(int fd)
{
	struct stat st;
	return fstat(fd, &st) == 0 ? st.st_mtim : (struct timespec){ 0, 0 };
}

/* ---- watches ---- */

static void watch_put(struct watch *w)
{
	if (--w->refs)
		return;
	for (struct watch **p = &H.watches; *p; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			break;
		}
	close(w->dir[0]);
	close(w->dir[1]);
	free(w);
}

/* The watch of the folder whose directories dir are (taking them, or closing
 * them when the folder is watched already); NULL if they are no directories. */
static struct watch *watch_get(int dir[2])
{
	struct stat st[2];
	if (fstat(dir[0], &st[0]) < 0 || fstat(dir[1], &st[1]) < 0 ||
	    !S_ISDIR(st[0].st_mode) || !S_ISDIR(st[1].st_mode)) {
		close(dir[0]);
		close(dir[1]);
		return NULL;
	}
	for (struct watch *w = H.watches; w; w = w->next)
		if (w->dev == st[0].st_dev && w->ino == st[0].st_ino) {
			close(dir[0]);
			close(dir[1]);
			w->refs++;
			return w;
		}
	struct watch *w = xcalloc(1, sizeof *w);
	*w = (struct watch){ st[0].st_dev, st[0].st_ino, { dir[0], dir[1] },
			     { st[0].st_mtim, st[1].st_mtim }, 1, H.watches };
	H.watches = w;
	return w;
}

/* ---- groups: sessions parked in one state ---- */

static bool too_recent(const struct timespec seen[2], const struct timespec *now)
{
	for (int i = 0; i < 2; i++)
		if (now->tv_sec - seen[i].tv_sec < IDLE_HOLD_RACY_SECS)
			return true;
	return false;
}

static bool ts_before(struct timespec a, struct timespec b)
{
	return a.tv_sec < b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec < b.tv_nsec);
}

/* A state synced against seen joins g: g keeps the older mtimes, so what
 * changed after either is looked at (an update that finds nothing says
 * nothing). */
static void group_seen(struct group *g, const struct timespec seen[2])
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	for (int i = 0; i < 2; i++)
		if (ts_before(seen[i], g->seen[i]))
			g->seen[i] = seen[i];
	g->racy |= too_recent(seen, &now);
}

static struct group *group_find(const struct watch *w, const void *view, size_t n,
				const struct group *not)
{
	for (struct group *g = H.groups; g; g = g->next)
		if (g != not && g->w == w && g->nview == n && !memcmp(g->view, view, n))
			return g;
	return NULL;
}

/* The group of view on w (taking the caller's reference to w). */
static struct group *group_get(struct watch *w, const void *view, size_t n,
			       const struct timespec seen[2])
{
	struct group *g = group_find(w, view, n, NULL);
	if (g) {
		watch_put(w);
		g->refs++;
		group_seen(g, seen);
		return g;
	}
	g = xcalloc(1, sizeof *g);
	g->id = ++H.next_group;
	g->w = w;
	g->view = xmalloc(n ? n : 1);
	memcpy(g->view, view, n);
	g->nview = n;
	g->seen[0] = seen[0];
	g->seen[1] = seen[1];
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	g->racy = too_recent(seen, &now);
	g->refs = 1;
	g->next = H.groups;
	H.groups = g;
	return g;
}

static void group_put(struct group *g)
{
	if (--g->refs)
		return;
	for (struct group **q = &H.groups; *q; q = &(*q)->next)
		if (*q == g) {
			*q = g->next;
			break;
		}
	watch_put(g->w);
	free(g->view);
	free(g);
}

/* ---- parked sessions ---- */

static void parked_free(struct parked *p, bool close_fd)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		H.parked = p->next;
	if (p->next)
		p->next->prev = p->prev;
	H.nparked--;
	event_free(p->ev);
	if (close_fd)
		close(p->fd);
	group_put(p->g);
	free(p->ticket);
	free(p);
}

static void conn_want_write(struct mailconn *c);

/* The mail role that parked it, else the newest still connected. */
static struct mailconn *wake_target(struct parked *p)
{
	if (p->from)
		return p->from;
	return H.conns;
}

static void wake(struct parked *p, uint32_t why)
{
	struct mailconn *c = wake_target(p);
	if (!c) {
		/* no mail role to resume it: end it as a restart of the role would */
		log_warn("imap idle: no mail role to wake a session; closing it");
		parked_free(p, true);
		return;
	}
	struct ipc_msg m;
	ipc_msg_init(&m, IDLE_WAKE, 0);
	ipc_put_u32(&m, why);
	ipc_put_bytes(&m, p->ticket, p->nticket);
	ipc_put_bytes(&m, p->g->view, p->g->nview);
	ipc_put_fd(&m, p->fd);
	ipc_conn_queue(&c->ic, &m);
	ipc_msg_free(&m);
	conn_want_write(c);
	parked_free(p, false);
}

/* Call fn for each session of g (which it may free), g staying valid. */
static void group_each(struct group *g, void (*fn)(struct parked *, const void *),
		       const void *arg)
{
	g->refs++;
	size_t left = g->refs - 1;
	struct parked *next;
	for (struct parked *p = H.parked; p && left; p = next) {
		next = p->next;
		if (p->g == g) {
			left--;
			fn(p, arg);
		}
	}
	group_put(g);
}

static void wake_change(struct parked *p, const void *arg)
{
	wake(p, IDLE_WHY_CHANGE);
}

/* The client is readable: input wakes the session, a hang-up ends it. */
static void on_client(evutil_socket_t fd, short what, void *arg)
{
	struct parked *p = arg;
	char b;
	ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n > 0)
		wake(p, IDLE_WHY_INPUT);
	else if (n == 0 || (errno != EAGAIN && errno != EINTR))
		parked_free(p, true);	/* the client is gone: nothing to resume */
}

static void park(struct mailconn *c, struct ipc_msg *m)
{
	size_t n, nv;
	const void *ticket = ipc_get_bytes(m, &n, IDLE_TICKET_MAX);
	const void *view = ipc_get_bytes(m, &nv, IDLE_TICKET_MAX);
	uint64_t deadline = ipc_get_u64(m);
	int fd = ipc_take_fd(m);
	if (!ipc_end(m) || fd < 0 || c->dir[0] < 0 || c->dir[1] < 0) {
		log_warn("imap idle: malformed park refused");
		if (fd >= 0)
			close(fd);
		return;
	}
	struct watch *w = watch_get(c->dir);
	c->dir[0] = c->dir[1] = -1;
	if (!w) {
		log_warn("imap idle: a park named no folder directories");
		close(fd);
		return;
	}
	struct parked *p = xcalloc(1, sizeof *p);
	p->fd = fd;
	p->g = group_get(w, view, nv, c->seen);
	p->ticket = xmalloc(n ? n : 1);
	memcpy(p->ticket, ticket, n);
	p->nticket = n;
	p->deadline = (time_t)deadline;
	p->from = c;
	p->next = H.parked;
	if (H.parked)
		H.parked->prev = p;
	H.parked = p;
	H.nparked++;
	p->ev = event_new(H.base, fd, EV_READ | EV_PERSIST, on_client, p);
	event_add(p->ev, NULL);
}

static void hold_dir(struct mailconn *c, struct ipc_msg *m)
{
	uint32_t which = ipc_get_u32(m);
	uint64_t sec = ipc_get_u64(m);
	uint32_t nsec = ipc_get_u32(m);
	int fd = ipc_take_fd(m);
	if (!ipc_end(m) || which > 1 || fd < 0 || nsec >= 1000000000u) {
		log_warn("imap idle: malformed directory refused");
		if (fd >= 0)
			close(fd);
		return;
	}
	if (c->dir[which] >= 0)
		close(c->dir[which]);
	c->dir[which] = fd;
	c->seen[which] = (struct timespec){ (time_t)sec, (long)nsec };
}

/* ---- updates: what a group's clients are owed, written by the holder ---- */

/* Ask the newest mail role for g's update (without one: wake them all,
 * which closes them as a restart of the role would). */
static void update_ask(struct group *g, size_t sessions)
{
	struct mailconn *c = H.conns;
	if (!c) {
		group_each(g, wake_change, NULL);
		return;
	}
	struct ipc_msg m;
	ipc_msg_init(&m, IDLE_UPDATE, 0);
	ipc_put_u64(&m, g->id);
	ipc_put_u32(&m, (uint32_t)sessions);
	ipc_put_bytes(&m, g->view, g->nview);
	ipc_conn_queue(&c->ic, &m);
	ipc_msg_free(&m);
	conn_want_write(c);
	g->busy = c;
}

struct out {
	const void *b;
	size_t n;
};

/* The client is in IDLE, where untagged responses may come at any time. A
 * client whose socket cannot take them at once has not read for long (its
 * buffer holds far more than one update): it is closed, as a session
 * process would after its write timeout. */
static void write_update(struct parked *p, const void *arg)
{
	const struct out *o = arg;
	struct iovec iov = { (void *)o->b, o->n };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (sendmsg(p->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)o->n) {
		log_warn("imap idle: a parked client took no update; closing it");
		parked_free(p, true);
	}
}

/* Sessions of g join another group that is now in the same state. */
static void regroup(struct parked *p, const void *arg)
{
	struct group *to = (struct group *)arg;
	to->refs++;
	group_put(p->g);
	p->g = to;
}

static void group_updated(struct group *g, const struct out *o, const void *view, size_t nv,
			  const struct timespec seen[2])
{
	g->refs++;	/* kept while its sessions are written to */
	if (o->n)
		group_each(g, write_update, o);
	free(g->view);
	g->view = xmalloc(nv ? nv : 1);
	memcpy(g->view, view, nv);
	g->nview = nv;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	g->seen[0] = seen[0];
	g->seen[1] = seen[1];
	g->racy = too_recent(seen, &now);
	struct group *same = group_find(g->w, view, nv, g);
	if (same && g->refs > 1) {
		group_seen(same, g->seen);
		group_each(g, regroup, same);
	}
	group_put(g);
}

static void updated(struct mailconn *c, struct ipc_msg *m)
{
	uint64_t id = ipc_get_u64(m);
	uint32_t status = ipc_get_u32(m);
	struct out o;
	size_t nv;
	o.b = ipc_get_bytes(m, &o.n, IDLE_UPDATE_OUT_MAX);
	const void *view = ipc_get_bytes(m, &nv, IDLE_TICKET_MAX);
	struct timespec seen[2];
	for (int i = 0; i < 2; i++) {
		seen[i].tv_sec = (time_t)ipc_get_u64(m);
		seen[i].tv_nsec = (long)ipc_get_u32(m);
	}
	struct group *g = H.groups;
	while (g && g->id != id)
		g = g->next;
	if (!ipc_end(m) || !o.b || !view) {
		log_warn("imap idle: malformed update refused");
		status = IDLE_UPDATE_FAILED;
	}
	if (!g || g->busy != c)
		return;	/* its sessions all went meanwhile */
	g->busy = NULL;
	if (status == IDLE_UPDATE_DONE && nv)
		group_updated(g, &o, view, nv, seen);
	else if (status != IDLE_UPDATE_LATER)
		group_each(g, wake_change, NULL);	/* each resumed in a process */
}

/* ---- sweeps: folders and deadlines ---- */

static bool group_moved(const struct group *g, const struct timespec *now)
{
	for (int i = 0; i < 2; i++)
		if (!ts_eq(g->w->now[i], g->seen[i]))
			return true;
	/* the last change might share its mtime with one the state saw: once
	 * it is old enough, look once more */
	return g->racy && !too_recent(g->seen, now);
}

static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	for (struct watch *w = H.watches; w; w = w->next)
		for (int i = 0; i < 2; i++)
			w->now[i] = mtime_of(w->dir[i]);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct parked *next;
	for (struct parked *p = H.parked; p; p = next) {
		next = p->next;
		if (now.tv_sec >= p->deadline)
			wake(p, IDLE_WHY_DEADLINE);
	}
	struct group *gnext;
	for (struct group *g = H.groups; g; g = gnext) {
		size_t sessions = g->refs;
		g->refs++;	/* update_ask may wake (free) its sessions */
		if (!g->busy && group_moved(g, &now))
			update_ask(g, sessions);
		gnext = g->next;
		group_put(g);
	}
}

/* ---- mail role connections ---- */

static void conn_free(struct mailconn *c)
{
	for (struct mailconn **q = &H.conns; *q; q = &(*q)->next)
		if (*q == c) {
			*q = c->next;
			break;
		}
	for (struct parked *p = H.parked; p; p = p->next)
		if (p->from == c)
			p->from = NULL;
	for (struct group *g = H.groups; g; g = g->next)
		if (g->busy == c)
			g->busy = NULL;	/* asked again at the next sweep */
	for (int i = 0; i < 2; i++)
		if (c->dir[i] >= 0)
			close(c->dir[i]);
	event_free(c->rev);
	event_free(c->wev);
	ipc_conn_close(&c->ic);
	free(c);
}

static void on_conn_write(evutil_socket_t fd, short what, void *arg)
{
	struct mailconn *c = arg;
	int r = ipc_conn_flush(&c->ic);
	if (r < 0)
		conn_free(c);
	else if (r == 0)
		event_add(c->wev, NULL);
}

static void conn_want_write(struct mailconn *c)
{
	event_active(c->wev, EV_WRITE, 0);
}

static void on_conn_read(evutil_socket_t fd, short what, void *arg)
{
	struct mailconn *c = arg;
	if (ipc_conn_read(&c->ic) < 0) {
		conn_free(c);
		return;
	}
	struct ipc_msg m;
	int r;
	while ((r = ipc_conn_next(&c->ic, &m)) == 1) {
		if (m.hdr.type == IDLE_HOLD_DIR)
			hold_dir(c, &m);
		else if (m.hdr.type == IDLE_HOLD)
			park(c, &m);
		else if (m.hdr.type == IDLE_UPDATED)
			updated(c, &m);
		else
			r = -1;
		ipc_msg_free(&m);
		if (r < 0)
			break;
	}
	if (r < 0) {
		log_warn("imap idle: malformed message from the mail role; connection closed");
		conn_free(c);
	} else if (c->ic.eof) {
		conn_free(c);
	}
}

static void on_accept(evutil_socket_t lsock, short what, void *arg)
{
	int s = accept4(lsock, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (s < 0)
		return;
	unsigned uid;
	int pid;
	if (ipc_peer_uid(s, &uid, &pid) < 0 || (uid != H.mail_uid && uid != 0 && uid != getuid())) {
		log_warn("imap idle: connection from uid %u refused", uid);
		close(s);
		return;
	}
	struct mailconn *c = xcalloc(1, sizeof *c);
	ipc_conn_init(&c->ic, s);
	c->dir[0] = c->dir[1] = -1;
	c->rev = event_new(H.base, s, EV_READ | EV_PERSIST, on_conn_read, c);
	c->wev = event_new(H.base, s, EV_WRITE, on_conn_write, c);
	event_add(c->rev, NULL);
	c->next = H.conns;	/* newest first: wakes whose role is gone go there */
	H.conns = c;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	/* SIGHUP: nothing of the holder's is configured; parked sessions stay */
	if (sig == SIGTERM)
		event_base_loopexit(H.base, NULL);
}

/* A descriptor per parked connection and two per watched folder: as many
 * as the hard limit allows (the soft one is often 1024). */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		log_info("imap idle: up to %llu descriptors", (unsigned long long)rl.rlim_cur);
}

int hold_main(struct instance *in, struct cfg *conf)
{
	(void)conf;
	raise_fd_limit();
	gid_t g;
	if (account_ids(ACCT_MAILSTORE, &H.mail_uid, &g) < 0 || getuid() != 0)
		H.mail_uid = getuid();
	char *path = xasprintf("%s/%s", in->run_dir, IDLE_HOLD_SOCK);
	/* world-connectable: the peer uid is checked on every connection */
	int lsock = ipc_listen(path, 0666);
	if (lsock < 0)
		fatal_errno("cannot listen on %s", path);
	free(path);
	fd_nonblock(lsock);
	privdrop(ACCT_IMAPD, in->run_dir);
	H.base = event_base_new();
	struct event *evs[4] = {
		event_new(H.base, lsock, EV_READ | EV_PERSIST, on_accept, NULL),
		evsignal_new(H.base, SIGTERM, on_signal, NULL),
		evsignal_new(H.base, SIGHUP, on_signal, NULL),
		event_new(H.base, -1, EV_PERSIST, on_sweep, NULL),
	};
	struct timeval tv = { 0, IDLE_HOLD_POLL_MS * 1000 };
	for (int i = 0; i < 3; i++)
		event_add(evs[i], NULL);
	event_add(evs[3], &tv);
	/* Holds connections and directory descriptors: no file to open, no
	 * socket to make, only accept on its own. */
	sandbox_enter("imapd-idle", SB_ACCEPT, NULL, 0);
	log_info("imap idle: holding");
	daemon_ready();
	event_base_dispatch(H.base);
	log_info("imap idle: stopping with %zu parked session(s)", H.nparked);
	return 0;
}
