/* idlepark.c — the mail role's half of parking: a session's park request
 * (two directories and the state, with the client connection) becomes a
 * sealed ticket held by the holder; the holder's wakes come back here and
 * are resumed by a new session process (the resume function mailrole.c
 * gives), and its updates (one per group of sessions parked in one state
 * whose folder changed) are computed by an update process (the update
 * function) whose answer goes back sealed. The holder connection is made
 * on the first park and again after the holder restarted. */
#include "imapd/idlepark.h"
#include "imapd/idlehold.h"
#include "common/daemon.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A park is three messages; a holder that has not taken them in this long
 * is not reading (stopped, or stuck): the mail role, which serves every
 * login hand-off in one loop, stops waiting, keeps the session in a
 * process, drops the connection (a message may have gone half) and sends
 * the holder no park for HOLDER_PAUSE_SECS (a holder that does not read
 * would swallow them unheard). It connects again at once, for the wakes of
 * what the holder took before: if it goes on, they come there. */
#define HOLDER_SEND_MS		1000
#define HOLDER_PAUSE_SECS	30
/* What may wait unread in the socket to the holder: about 20 parks (a live
 * holder reads each at once), which is also all that a holder that stops
 * reading can swallow before HOLDER_SEND_MS notices (the default, 208 kB,
 * took 76). */
#define HOLDER_SNDBUF		(32 * 1024)
/* An update process that has not answered in this long is killed and its
 * group woken session by session. */
#define UPDATE_MAX_MS		10000

/* An update process at work: the holder's group and the user it runs as. */
struct update {
	int fd;
	pid_t pid;
	uint64_t group;
	char *user;
	uint64_t started;	/* now_ms */
};

static struct {
	char *path;
	uint64_t idle_max;
	idlepark_resume_fn resume;
	idlepark_update_fn update;
	struct update updates[IDLEPARK_UPDATES_MAX];
	size_t nupdates;
	int sock;
	time_t paused_until;	/* the holder did not read: no park before */
	time_t last_try;	/* of idlepark_tick's connect */
	uint64_t deadline;	/* of the park being sent (now_ms) */
} P = { .sock = -1 };

static int holder_connect(void)
{
	int s = ipc_connect(P.path);
	int sz = HOLDER_SNDBUF;
	if (s >= 0)
		(void)setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	return s;
}

void idlepark_init(const char *path, uint64_t idle_max, idlepark_resume_fn resume,
		   idlepark_update_fn update)
{
	P.path = xstrdup(path);
	P.idle_max = idle_max;
	P.resume = resume;
	P.update = update;
	/* at once, so that a new generation after a reload is there to resume
	 * what the old one parked; else at the first park */
	P.sock = holder_connect();
}

int idlepark_fd(void)
{
	return P.sock;
}

void idlepark_child(void)
{
	if (P.sock >= 0)
		close(P.sock);
	P.sock = -1;
	for (size_t i = 0; i < P.nupdates; i++)
		close(P.updates[i].fd);
	P.nupdates = 0;
}

static void updates_expire(void);

void idlepark_tick(void)
{
	updates_expire();
	time_t now = time(NULL);
	if (P.sock >= 0 || now == P.last_try)
		return;
	P.last_try = now;
	P.sock = holder_connect();
}

static void holder_lost(void)
{
	log_warn("imap mail: connection to the idle holder lost");
	close(P.sock);
	P.sock = -1;
}

/* What the holder sent is not what it may send: its stream is dropped. */
static void holder_invalid(struct ipc_msg *m, int fd)
{
	log_warn("imap mail: invalid message from the idle holder refused");
	if (fd >= 0)
		close(fd);
	ipc_msg_free(m);
	holder_lost();
}

static void wake_from(struct ipc_msg *m)
{
	uint32_t why = ipc_get_u32(m);
	size_t n, nv;
	const void *t = ipc_get_bytes(m, &n, IDLE_TICKET_MAX);
	const void *v = ipc_get_bytes(m, &nv, IDLE_TICKET_MAX);
	int fd = ipc_take_fd(m);
	struct park_state ps;
	if (!ipc_end(m) || fd < 0 || !t || !v || !park_open(daemon_secret(), t, n, v, nv, &ps)) {
		holder_invalid(m, fd);
		return;
	}
	ipc_msg_free(m);
	P.resume(fd, &ps, why);
}

/* The answer to the holder's IDLE_UPDATE for group. */
static void updated_to_holder(uint64_t group, uint32_t status, const void *out, size_t nout,
			      const void *view, size_t nview, const uint64_t sec[2],
			      const uint32_t nsec[2])
{
	if (P.sock < 0)
		return;	/* the holder that asked is gone, and its sessions with it */
	struct ipc_msg m;
	ipc_msg_init(&m, IDLE_UPDATED, 0);
	ipc_put_u64(&m, group);
	ipc_put_u32(&m, status);
	ipc_put_bytes(&m, out, nout);
	ipc_put_bytes(&m, view, nview);
	for (int i = 0; i < 2; i++) {
		ipc_put_u64(&m, sec[i]);
		ipc_put_u32(&m, nsec[i]);
	}
	if (ipc_send_within(P.sock, &m, HOLDER_SEND_MS) < 0)
		holder_lost();
	ipc_msg_free(&m);
}

static void update_refused(uint64_t group, uint32_t status)
{
	static const uint64_t sec[2];
	static const uint32_t nsec[2];
	updated_to_holder(group, status, "", 0, "", 0, sec, nsec);
}

/* The holder's group whose view ticket m carries: an update process of its
 * user computes what its clients are owed. */
static void update_from(struct ipc_msg *m)
{
	uint64_t group = ipc_get_u64(m);
	uint32_t members = ipc_get_u32(m);
	size_t nv;
	const void *v = ipc_get_bytes(m, &nv, IDLE_TICKET_MAX);
	struct park_state ps;
	if (!ipc_end(m) || !v || !park_open_view(daemon_secret(), v, nv, &ps)) {
		holder_invalid(m, -1);
		return;
	}
	ipc_msg_free(m);
	if (P.nupdates == IDLEPARK_UPDATES_MAX) {
		update_refused(group, IDLE_UPDATE_LATER);
		park_free(&ps);
		return;
	}
	pid_t pid;
	int fd = P.update(&ps, members > 1, &pid);
	if (fd < 0)
		update_refused(group, IDLE_UPDATE_LATER);
	else
		P.updates[P.nupdates++] = (struct update){ fd, pid, group, xstrdup(ps.user),
							   now_ms() };
	park_free(&ps);
}

void idlepark_wakes(void)
{
	struct ipc_msg m;
	if (ipc_recv(P.sock, &m, 1000) < 0) {
		holder_lost();	/* it died: its connections died with it */
		return;
	}
	if (m.hdr.type == IDLE_WAKE)
		wake_from(&m);
	else if (m.hdr.type == IDLE_UPDATE)
		update_from(&m);
	else
		holder_invalid(&m, ipc_take_fd(&m));
}

/* ---- update processes ---- */

size_t idlepark_update_fds(struct pollfd *p)
{
	for (size_t i = 0; i < P.nupdates; i++)
		p[i] = (struct pollfd){ P.updates[i].fd, POLLIN, 0 };
	return P.nupdates;
}

static void update_end(size_t i)
{
	close(P.updates[i].fd);
	free(P.updates[i].user);
	P.updates[i] = P.updates[--P.nupdates];
}

/* The answer of update process i (sealed with the user it runs as: the
 * view is ours to vouch for, never the process's), or FAILED. */
static void update_answer(size_t i)
{
	struct update *u = &P.updates[i];
	struct ipc_msg m;
	if (ipc_recv(u->fd, &m, 1000) < 0) {
		log_warn("imap mail: an update process of %s gave no answer", u->user);
		update_refused(u->group, IDLE_UPDATE_FAILED);
		return;
	}
	uint32_t status = ipc_get_u32(&m);
	size_t nout;
	const void *out = ipc_get_bytes(&m, &nout, IDLE_UPDATE_OUT_MAX);
	struct park_state ps;
	bool ok = m.hdr.type == IDLE_UPDATE_RES && out && park_get_view(&m, &ps);
	uint64_t sec[2];
	uint32_t nsec[2];
	for (int k = 0; k < 2; k++) {
		sec[k] = ipc_get_u64(&m);
		nsec[k] = ipc_get_u32(&m);
	}
	size_t nv = 0;
	unsigned char *v = NULL;
	if (ok && ipc_end(&m) && status == IDLE_UPDATE_DONE) {
		ps.user = xstrdup(u->user);
		v = park_seal(daemon_secret(), &ps, true, &nv);
	}
	if (v)
		updated_to_holder(u->group, IDLE_UPDATE_DONE, out, nout, v, nv, sec, nsec);
	else
		update_refused(u->group, IDLE_UPDATE_FAILED);
	free(v);
	if (ok)
		park_free(&ps);
	ipc_msg_free(&m);
}

void idlepark_updates(const struct pollfd *p, size_t n)
{
	for (size_t i = n; i-- > 0;) {
		if (i >= P.nupdates || !p[i].revents || P.updates[i].fd != p[i].fd)
			continue;
		update_answer(i);
		update_end(i);
	}
}

/* Update processes past UPDATE_MAX_MS: killed, their groups woken. */
static void updates_expire(void)
{
	uint64_t now = now_ms();
	for (size_t i = P.nupdates; i-- > 0;) {
		if (now - P.updates[i].started < UPDATE_MAX_MS)
			continue;
		log_warn("imap mail: an update process of %s took too long; killed", P.updates[i].user);
		kill(P.updates[i].pid, SIGKILL);
		update_refused(P.updates[i].group, IDLE_UPDATE_FAILED);
		update_end(i);
	}
}

/* One IDLE_PARK_DIR: which directory, the mtime the session saw, the fd. */
static bool take_dir(struct ipc_msg *m, int dir[2], uint64_t sec[2], uint32_t nsec[2])
{
	uint32_t which = ipc_get_u32(m);
	uint64_t s = ipc_get_u64(m);
	uint32_t ns = ipc_get_u32(m);
	int fd = ipc_take_fd(m);
	struct stat st;
	if (m->hdr.type != IDLE_PARK_DIR || !ipc_end(m) || which > 1 || fd < 0 || dir[which] >= 0 ||
	    fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	dir[which] = fd;
	sec[which] = s;
	nsec[which] = ns;
	return true;
}

/* One message of a park, within what is left of HOLDER_SEND_MS. */
static bool send_bounded(struct ipc_msg *m)
{
	uint64_t now = now_ms();
	int left = now < P.deadline ? (int)(P.deadline - now) : 0;
	if (ipc_send_within(P.sock, m, left) == 0)
		return true;
	if (errno == ETIMEDOUT) {
		log_warn("imap mail: the idle holder took no park in %d ms; sessions stay in their "
			 "processes for %d s", HOLDER_SEND_MS, HOLDER_PAUSE_SECS);
		P.paused_until = time(NULL) + HOLDER_PAUSE_SECS;
	}
	return false;
}

static bool send_dir(int which, int fd, uint64_t sec, uint32_t nsec)
{
	struct ipc_msg m;
	ipc_msg_init(&m, IDLE_HOLD_DIR, 0);
	ipc_put_u32(&m, (uint32_t)which);
	ipc_put_u64(&m, sec);
	ipc_put_u32(&m, nsec);
	ipc_put_fd(&m, fd);
	bool ok = send_bounded(&m);
	ipc_msg_free(&m);
	return ok;
}

/* Hand the park to the holder; false (everything closed but fd) if it
 * cannot be reached. */
static bool to_holder(int dir[2], uint64_t sec[2], uint32_t nsec[2], const struct park_state *ps,
		      int fd)
{
	size_t n, nv;
	unsigned char *t = park_seal(daemon_secret(), ps, false, &n);
	unsigned char *v = park_seal(daemon_secret(), ps, true, &nv);
	bool paused = time(NULL) < P.paused_until;
	if (!paused && P.sock < 0 && (P.sock = holder_connect()) < 0)
		log_warn("imap mail: cannot reach the idle holder at %s", P.path);
	bool ok = t && v && !paused && P.sock >= 0, tried = ok;
	P.deadline = now_ms() + HOLDER_SEND_MS;
	for (int i = 0; i < 2; i++) {
		if (ok)
			ok = send_dir(i, dir[i], sec[i], nsec[i]);	/* the message takes it */
		else
			close(dir[i]);
		dir[i] = -1;
	}
	if (ok) {
		struct ipc_msg m;
		ipc_msg_init(&m, IDLE_HOLD, 0);
		ipc_put_bytes(&m, t, n);
		ipc_put_bytes(&m, v, nv);
		ipc_put_u64(&m, ps->idle_start + P.idle_max);
		ipc_put_fd(&m, dup(fd));
		ok = send_bounded(&m);
		ipc_msg_free(&m);
	}
	free(t);
	free(v);
	if (tried && !ok)
		holder_lost();	/* a message may have gone half: the stream is unusable */
	return ok;
}

int idlepark_from_session(int chan, struct ipc_msg *first, const char *user)
{
	int dir[2] = { -1, -1 };
	uint64_t sec[2];
	uint32_t nsec[2];
	struct ipc_msg m;
	bool ok = take_dir(first, dir, sec, nsec) && ipc_recv(chan, &m, 1000) == 0;
	if (ok) {
		ok = take_dir(&m, dir, sec, nsec);
		ipc_msg_free(&m);
	}
	int fd = -1;
	struct park_state ps = { 0 };
	if (ok && ipc_recv(chan, &m, 1000) == 0) {
		fd = ipc_take_fd(&m);
		ok = m.hdr.type == IDLE_PARK_REQ && fd >= 0 && park_get(&m, &ps, true);
		ipc_msg_free(&m);
	} else {
		ok = false;
	}
	if (!ok) {
		log_warn("imap mail: malformed park from a session of %s", user);
		for (int i = 0; i < 2; i++)
			if (dir[i] >= 0)
				close(dir[i]);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	free(ps.user);
	ps.user = xstrdup(user);	/* the user is ours to say, never the session's */
	if (to_holder(dir, sec, nsec, &ps, fd)) {
		close(fd);
		park_free(&ps);
	} else {
		P.resume(fd, &ps, IDLE_WHY_UNHELD);	/* the session goes on in a process */
	}
	return 0;
}
