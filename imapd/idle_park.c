/* idle_park.c — a session's half of parking (docs/ARCHITECTURE.md, "Idle
 * sessions: the holder"): after idle_park_after of IDLE the session sends
 * its state, the selected folder's new/ and cur/ and the client connection
 * to the mail role over its channel and ends without another word to the
 * client; a new session process resumes it (idle_resume) when the holder
 * wakes it. */
#include "imapd/commands.h"
#include "imapd/idlehold.h"
#include "imapd/park.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/mailindex.h"
#include "common/util.h"

#include <event2/event.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PARK_RETRY_SECS 1

static void on_park(evutil_socket_t fd, short what, void *arg);

/* Nothing is in flight that a parked session would lose: no output waiting,
 * no input read, and no state the ticket does not carry (COMPRESS's zlib
 * streams, NOTIFY, updating search contexts). */
static bool parkable(struct session *s)
{
	return s->idling && !s->closing && !s->compressed && !s->notify && !s->append &&
	       !s->fetch && (!s->sel || s->sel->nhooks == 0) &&
	       evbuffer_get_length(bufferevent_get_output(s->bev)) == 0 &&
	       evbuffer_get_length(bufferevent_get_input(s->bev)) == 0;
}

void idle_park_arm(struct session *s)
{
	if (!s->lim.park_after || urlauth_channel() < 0 || s->compressed || s->notify)
		return;
	struct timeval tv = { (time_t)s->lim.park_after, 0 };
	s->park_timer = evtimer_new(s->base, on_park, s);
	evtimer_add(s->park_timer, &tv);
}

static void retry(struct session *s)
{
	struct timeval tv = { PARK_RETRY_SECS, 0 };
	evtimer_add(s->park_timer, &tv);
}

/* The keywords FLAGS has named, space-separated; false if too many. */
static bool kws_text(const struct view *v, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; v && i < v->nkws; i++) {
		size_t l = strlen(v->kws[i]);
		if (n + l + 2 > cap)
			return false;
		if (n)
			out[n++] = ' ';
		memcpy(out + n, v->kws[i], l + 1);
		n += l;
	}
	return true;
}

/* The UIDs \Recent to the session as a UID set, one range per run of
 * recent messages in the view; false if it does not fit. */
static bool recent_text(const struct view *v, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; v && i < v->n; i++) {
		if (!v->m[i].recent)
			continue;
		size_t j = i;
		while (j + 1 < v->n && v->m[j + 1].recent)
			j++;
		int w = snprintf(out + n, cap - n, "%s%u:%u", n ? "," : "", v->m[i].uid, v->m[j].uid);
		if (w < 0 || (size_t)w >= cap - n)
			return false;
		n += (size_t)w;
		i = j;
	}
	return true;
}

static bool send_dir(int chan, int which, int fd, const struct timespec *m)
{
	struct ipc_msg msg;
	ipc_msg_init(&msg, IDLE_PARK_DIR, 0);
	ipc_put_u32(&msg, (uint32_t)which);
	ipc_put_u64(&msg, (uint64_t)m->tv_sec);
	ipc_put_u32(&msg, (uint32_t)m->tv_nsec);
	ipc_put_fd(&msg, fd);
	int r = ipc_send(chan, &msg);
	ipc_msg_free(&msg);
	return r == 0;
}

/* The state of s (strings borrowed from s and from kws and recent). */
static struct park_state state_of(struct session *s, const char *kws, const char *recent)
{
	struct view *v = s->sel;
	return (struct park_state){
		.user = s->user, .ip = s->ip, .tag = s->idle_tag, .folder = v ? v->name : "",
		.kws = (char *)kws, .recent = (char *)recent,
		.flags = (v && v->readonly ? PARK_READONLY : 0) | (s->condstore ? PARK_CONDSTORE : 0) |
			 (s->qresync ? PARK_QRESYNC : 0) | (s->rev2 ? PARK_REV2 : 0) |
			 (s->utf8 ? PARK_UTF8 : 0) | (s->tls ? PARK_TLS : 0),
		.uidvalidity = v ? v->uidvalidity : 0, .uidnext = v ? v->uidnext : 0,
		.exists = v ? (uint32_t)v->n : 0, .modseq = v ? v->modseq : 0,
		.idle_start = (uint64_t)s->idle_start,
	};
}

static bool send_state(struct session *s, int chan, const char *kws, const char *recent)
{
	struct park_state ps = state_of(s, kws, recent);
	struct ipc_msg m;
	ipc_msg_init(&m, IDLE_PARK_REQ, 0);
	park_put(&m, &ps, true);
	ipc_put_fd(&m, dup(bufferevent_getfd(s->bev)));
	int r = ipc_send(chan, &m);
	ipc_msg_free(&m);
	return r == 0;
}

/* new/ and cur/ of what the holder is to watch (with nothing selected,
 * INBOX: a wake then finds nothing to say, which is harmless), and their
 * mtimes now, before the last sync. */
static bool open_dirs(struct session *s, int d[2], struct timespec m[2])
{
	const char *dir = s->sel ? s->sel->dir : ".";
	for (int i = 0; i < 2; i++) {
		char *p = xasprintf("%s/%s", dir, i ? "cur" : "new");
		struct stat st;
		d[i] = open(p, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		free(p);
		if (d[i] < 0 || fstat(d[i], &st) < 0) {
			if (d[i] >= 0)
				close(d[i]);
			if (i)
				close(d[0]);
			return false;
		}
		m[i] = st.st_mtim;
	}
	return true;
}

static void on_park(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	char kws[PARK_KWS_MAX], recent[PARK_RECENT_MAX];
	int d[2];
	struct timespec m[2];
	if (!parkable(s) || !open_dirs(s, d, m)) {
		retry(s);
		return;
	}
	if (s->sel)
		mi_close(view_sync(s, true));	/* what changed before the mtimes: said now */
	if (!parkable(s) || !kws_text(s->sel, kws, sizeof kws) ||
	    !recent_text(s->sel, recent, sizeof recent)) {
		close(d[0]);
		close(d[1]);
		if (!s->closing)
			retry(s);
		return;
	}
	int chan = urlauth_channel();
	bool ok = send_dir(chan, 0, d[0], &m[0]);
	if (ok)
		ok = send_dir(chan, 1, d[1], &m[1]);
	else
		close(d[1]);
	if (!ok || !send_state(s, chan, kws, recent)) {
		/* the mail role has half a park or none: stay in this process */
		log_warn("user=%s: cannot park the IDLE session", s->user);
		return;
	}
	s->parked = true;
	s->closing = true;
	bufferevent_disable(s->bev, EV_READ | EV_WRITE);
	event_base_loopexit(s->base, NULL);
}

/* What the parked client enabled, which shapes what it is told. */
static void set_flags(struct session *s, const struct park_state *ps)
{
	s->condstore = ps->flags & PARK_CONDSTORE;
	s->qresync = ps->flags & PARK_QRESYNC;
	s->rev2 = ps->flags & PARK_REV2;
	s->utf8 = ps->flags & PARK_UTF8;
	s->tls = ps->flags & PARK_TLS;
}

void idle_resume(struct session *s, struct park_state *ps, uint32_t why)
{
	set_flags(s, ps);
	s->idle_start = (time_t)ps->idle_start;
	log_info("imap session resumed: user=%s client=%s why=%u", s->user, s->ip, why);
	if (*ps->folder && view_resume(s, ps) < 0) {
		s_out(s, "* BYE [UNAVAILABLE] The mailbox changed beyond resuming; please reconnect");
		s->closing = true;
		bufferevent_disable(s->bev, EV_READ);
		return;
	}
	free(s->idle_tag);
	s->idle_tag = xstrdup(ps->tag);
	idle_begin(s);
	if (s->sel)
		mi_close(view_sync(s, true));	/* what the parked client missed */
	if (why == IDLE_WHY_DEADLINE && !s->closing)
		idle_expire(s);
	if (why == IDLE_WHY_UNHELD && s->park_timer) {
		struct timeval tv = { IDLE_UNHELD_SECS, 0 };
		evtimer_add(s->park_timer, &tv);	/* the holder is not taking parks now */
	}
}

/* The state after the update, synced against the mtimes m taken before the
 * sync; false when the folder cannot be resumed or the state does not fit
 * a ticket (the holder then wakes each session). */
static bool update_view(struct session *s, const struct park_state *ps, struct timespec m[2],
			char *kws, char *recent)
{
	if (*ps->folder && view_resume(s, ps) < 0)
		return false;
	int d[2];
	if (!open_dirs(s, d, m))
		return false;
	close(d[0]);
	close(d[1]);
	if (s->sel)
		mi_close(view_sync(s, true));
	return !s->closing && kws_text(s->sel, kws, PARK_KWS_MAX) &&
	       recent_text(s->sel, recent, PARK_RECENT_MAX) &&
	       evbuffer_get_length(s_buf(s)) <= IDLE_UPDATE_OUT_MAX;
}

void idle_update(struct session *s, const struct park_state *ps, bool shared, int chan)
{
	set_flags(s, ps);
	s->recent_unclaimed = shared;
	char *kws = xmalloc(PARK_KWS_MAX), *recent = xmalloc(PARK_RECENT_MAX);
	struct timespec m[2] = { { 0, 0 }, { 0, 0 } };
	bool ok = update_view(s, ps, m, kws, recent);
	struct park_state now = state_of(s, kws, recent);
	if (!s->sel) {
		/* nothing selected: nothing to say, the state stays */
		now.kws = ps->kws;
		now.recent = ps->recent;
	}
	struct evbuffer *out = s_buf(s);
	struct ipc_msg msg;
	ipc_msg_init(&msg, IDLE_UPDATE_RES, 0);
	ipc_put_u32(&msg, ok ? IDLE_UPDATE_DONE : IDLE_UPDATE_FAILED);
	ipc_put_bytes(&msg, ok ? evbuffer_pullup(out, -1) : NULL, ok ? evbuffer_get_length(out) : 0);
	park_put_view(&msg, &now);
	for (int i = 0; i < 2; i++) {
		ipc_put_u64(&msg, (uint64_t)m[i].tv_sec);
		ipc_put_u32(&msg, (uint32_t)m[i].tv_nsec);
	}
	if (ipc_send(chan, &msg) < 0)
		log_warn("user=%s: cannot send the update of parked sessions", s->user);
	ipc_msg_free(&msg);
	free(kws);
	free(recent);
}
