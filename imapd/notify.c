/* notify.c — NOTIFY at work (see notify.h): watching folders with one inotify
 * instance, or by polling their mtimes when the kernel has no instance or
 * watch left for the mail store's uid (dirpoll.h), and the STATUS, LIST and
 * selected-folder responses it leads to. */
#include "imapd/commands.h"
#include "imapd/dirpoll.h"
#include "imapd/notify.h"
#include "common/log.h"
#include "common/mailindex.h"
#include "common/mailstore.h"
#include "common/objectid.h"
#include "common/util.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIR_MASK (IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE)
#define MAX_PENDING_FETCH 10000	/* new UIDs waiting for their MessageNew FETCH */
#define MAX_UNSETTLED 64	/* new folder directories waiting for their cur/ */
#define SETTLE_TRIES 50		/* ... looked at every 100 ms for 5 s */

/* A folder watched for message events, with what the client last saw of it. */
struct nbox {
	char *name, *dir;
	int wd_new, wd_cur;
	struct timespec seen[2];	/* polling: mtimes of new/ and cur/ */
	bool touched;		/* an event since the last look */
	bool known;		/* the fields below are set */
	uint32_t uidvalidity, uidnext, count;
	uint64_t modseq;
};

struct notify {
	struct notify_spec *sp;
	int fd, wd_root;	/* fd -1: polling */
	struct event *ev, *later;	/* ev: inotify's, or the poll timer */
	struct timespec seen_root, seen_subs;	/* polling: the root's and subscriptions' mtimes */
	struct nbox *box;
	size_t nbox;
	char **list, **subs;	/* folders and subscriptions as last seen */
	size_t nlist, nsubs;
	char (*ids)[OBJECTID_LEN + 1];	/* polling: the MAILBOXID of each of list */
	bool list_dirty, subs_dirty, overflowed;
	/* renames seen in the root since the last look: pairs old, new */
	char **moved;
	size_t nmoved;
	uint32_t moved_cookie;
	char *moved_from;
	/* folders whose directory appeared before its cur/ (ms_create makes
	 * them one after the other): looked at again shortly */
	char **unsettled;
	size_t nunsettled;
	int settle_tries;
	uint32_t *pending;	/* new UIDs to FETCH for MessageNew */
	size_t npending;
	bool idle;		/* IDLE watches the selected folder through us */
};

static void later(struct notify *n, int msecs);

/* ---- which events a folder gets ---- */

static bool subscribed(const struct notify *n, const char *name)
{
	for (size_t i = 0; i < n->nsubs; i++)
		if (!strcmp(n->subs[i], name))
			return true;
	return false;
}

static bool group_matches(const struct notify *n, const struct notify_group *g, const char *name)
{
	switch (g->filter) {
	case NF_INBOXES:	/* every folder could receive mail (as Dovecot counts them) */
	case NF_PERSONAL:
		return true;
	case NF_SUBSCRIBED:
		return subscribed(n, name);
	case NF_SUBTREE:
		for (size_t i = 0; i < g->nnames; i++) {
			size_t l = strlen(g->names[i]);
			if (!strncmp(name, g->names[i], l) && (!name[l] || name[l] == MS_SEP))
				return true;
		}
		return false;
	case NF_MAILBOXES:
		for (size_t i = 0; i < g->nnames; i++)
			if (!strcmp(name, g->names[i]))
				return true;
		return false;
	}
	return false;
}

/* The events of the first group that names the folder (RFC 5465 6). */
static unsigned events_for(const struct notify *n, const char *name)
{
	for (size_t g = 0; g < n->sp->ngroups; g++)
		if (group_matches(n, &n->sp->groups[g], name))
			return n->sp->groups[g].events;
	return 0;
}

static bool is_selected(const struct session *s, const char *name)
{
	return s->sel && !strcmp(s->sel->name, name);
}

/* ---- STATUS of a watched folder ---- */

enum { ST_MESSAGES = 1, ST_UIDNEXT = 2, ST_UIDVALIDITY = 4, ST_UNSEEN = 8, ST_HIGHESTMODSEQ = 16 };

static uint64_t unseen_of(struct mi *mi)
{
	struct mi_rec *recs;
	size_t nr;
	uint64_t u = 0;
	if (mi_load(mi, &recs, &nr) < 0)
		return 0;
	for (size_t i = 0; i < nr; i++)
		u += !(recs[i].flags & MI_SEEN);
	mi_recs_free(recs, nr);
	return u;
}

static void status_out(struct session *s, const char *name, struct mi *mi, unsigned items)
{
	const struct mi_header *h = mi_header(mi);
	struct evbuffer *line = evbuffer_new();
	evbuffer_add(line, "* STATUS ", 9);
	s_mailbox(s, line, name);
	const char *sp = " (";
#define ITEM(bit, fmt, val) if (items & bit) { evbuffer_add_printf(line, "%s" fmt, sp, val); sp = " "; }
	ITEM(ST_MESSAGES, "MESSAGES %u", h->count);
	ITEM(ST_UIDNEXT, "UIDNEXT %u", h->uidnext);
	ITEM(ST_UIDVALIDITY, "UIDVALIDITY %u", h->uidvalidity);
	ITEM(ST_UNSEEN, "UNSEEN %llu", (unsigned long long)unseen_of(mi));
	ITEM(ST_HIGHESTMODSEQ, "HIGHESTMODSEQ %llu", (unsigned long long)h->modseq);
#undef ITEM
	evbuffer_add(line, ")\r\n", 3);
	evbuffer_add_buffer(s_buf(s), line);
	evbuffer_free(line);
}

static void remember(struct nbox *b, struct mi *mi)
{
	const struct mi_header *h = mi_header(mi);
	b->uidvalidity = h->uidvalidity;
	b->uidnext = h->uidnext;
	b->count = h->count;
	b->modseq = h->modseq;
	b->known = true;
}

/* What changed in a folder other than the selected one, as one STATUS with
 * the items those changes concern (Dovecot sends the same). */
static void look_at(struct session *s, struct notify *n, struct nbox *b)
{
	char why[256];
	struct mi *mi = mi_open(b->dir, NULL, NULL, why, sizeof why);
	if (!mi)
		return;	/* deleted meanwhile: MailboxName tells */
	const struct mi_header *h = mi_header(mi);
	unsigned ev = events_for(n, b->name), items = 0;
	if (b->known && h->uidvalidity != b->uidvalidity && (ev & NE_MESSAGE))
		items |= ST_UIDVALIDITY | ST_UIDNEXT | ST_MESSAGES | ST_UNSEEN;
	if (b->known && (h->uidnext != b->uidnext || h->count != b->count) &&
	    (ev & (NE_MESSAGE_NEW | NE_MESSAGE_EXPUNGE)))
		items |= ST_UIDNEXT | ST_MESSAGES | ST_UNSEEN;
	if (b->known && h->modseq != b->modseq && (ev & NE_FLAG_CHANGE))
		items |= ST_UNSEEN;
	if (items && s->condstore)
		items |= ST_HIGHESTMODSEQ;
	if (items)
		status_out(s, b->name, mi, items);
	remember(b, mi);
	mi_close(mi);
}

/* ---- the watch list ---- */

static void unwatch(struct notify *n, struct nbox *b)
{
	if (n->fd >= 0 && b->wd_new >= 0)
		inotify_rm_watch(n->fd, b->wd_new);
	if (n->fd >= 0 && b->wd_cur >= 0)
		inotify_rm_watch(n->fd, b->wd_cur);
	free(b->name);
	free(b->dir);
}

static int add_watch(struct notify *n, const char *dir, const char *sub)
{
	char *p = xasprintf("%s/%s", dir, sub);
	int wd = inotify_add_watch(n->fd, p, DIR_MASK);
	free(p);
	return wd;
}

static void start_polling(struct session *s, struct notify *n);

/* Watch b's new/ and cur/: inotify, or from now on polling for every folder
 * when the kernel refuses a watch. */
static void watch_box(struct session *s, struct notify *n, struct nbox *b)
{
	if (n->fd >= 0) {
		b->wd_new = add_watch(n, b->dir, "new");
		b->wd_cur = add_watch(n, b->dir, "cur");
		if (b->wd_new >= 0 && b->wd_cur >= 0)
			return;
		start_polling(s, n);
	}
	b->wd_new = b->wd_cur = -1;
	dirpoll_folder_changed(b->dir, b->seen);
}

static bool wanted(struct session *s, struct notify *n, const char *name)
{
	if (is_selected(s, name))
		return n->sp->sel_set || n->idle;
	return (events_for(n, name) & NE_MESSAGE) != 0;
}

static struct nbox *find_box(struct notify *n, const char *name)
{
	for (size_t i = 0; i < n->nbox; i++)
		if (!strcmp(n->box[i].name, name))
			return &n->box[i];
	return NULL;
}

/* Watch exactly the folders that now want it; new ones start from what they
 * hold now (no STATUS for that). false when there are too many. */
static bool rewatch(struct session *s, struct notify *n)
{
	bool ok = true;
	for (size_t i = n->nbox; i-- > 0;) {
		if (wanted(s, n, n->box[i].name) && ms_exists(n->box[i].name))
			continue;
		unwatch(n, &n->box[i]);
		n->box[i] = n->box[--n->nbox];
	}
	for (size_t i = 0; i < n->nlist; i++) {
		const char *name = n->list[i];
		if (!wanted(s, n, name) || find_box(n, name))
			continue;
		if (n->nbox == NOTIFY_MAX_WATCHED) {
			ok = false;
			break;
		}
		char *dir = folder_dir(name);
		if (!dir)
			continue;
		struct nbox b = { .name = xstrdup(name), .dir = dir };
		watch_box(s, n, &b);
		char why[256];
		struct mi *mi = mi_open(dir, NULL, NULL, why, sizeof why);
		if (mi) {
			remember(&b, mi);
			mi_close(mi);
		}
		n->box = xrealloc(n->box, (n->nbox + 1) * sizeof *n->box);
		n->box[n->nbox++] = b;
	}
	return ok;
}

/* ---- folder and subscription changes (MailboxName, SubscriptionChange) ---- */

static bool in_list(char **v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], name))
			return true;
	return false;
}

static void list_line(struct session *s, const char *attrs, const char *name, const char *oldname)
{
	struct evbuffer *line = evbuffer_new();
	evbuffer_add_printf(line, "* LIST (%s) \"%c\" ", attrs, MS_SEP);
	s_mailbox(s, line, name);
	if (oldname) {
		evbuffer_add(line, " (\"OLDNAME\" (", 13);
		s_mailbox(s, line, oldname);
		evbuffer_add(line, "))", 2);
	}
	evbuffer_add(line, "\r\n", 2);
	evbuffer_add_buffer(s_buf(s), line);
	evbuffer_free(line);
}

static bool wants_name_events(const struct notify *n, const char *name, unsigned ev)
{
	return (events_for(n, name) & ev) != 0;
}

/* Polling: the MAILBOXID of each folder of the list (it follows a RENAME). */
static void list_ids(struct notify *n)
{
	free(n->ids);
	n->ids = NULL;
	if (n->fd >= 0)
		return;
	n->ids = xcalloc(n->nlist + 1, sizeof *n->ids);
	for (size_t i = 0; i < n->nlist; i++) {
		char *dir = folder_dir(n->list[i]);
		if (!dir || objectid_mailbox(dir, n->ids[i]) < 0)
			n->ids[i][0] = '\0';
		free(dir);
	}
}

/* Polling sees no rename, only a folder gone and one made: the same
 * MAILBOXID pairs them, as inotify's cookie does. */
static void renames_by_id(struct notify *n, char **now, size_t nnow)
{
	for (size_t i = 0; n->ids && i < n->nlist; i++) {
		if (!n->ids[i][0] || in_list(now, nnow, n->list[i]))
			continue;
		for (size_t k = 0; k < nnow && n->nmoved < 2 * MS_MAX_FOLDERS; k++) {
			char id[OBJECTID_LEN + 1], *dir;
			if (in_list(n->list, n->nlist, now[k]) || !(dir = folder_dir(now[k])))
				continue;
			bool same = objectid_mailbox(dir, id) == 0 && !strcmp(id, n->ids[i]);
			free(dir);
			if (!same)
				continue;
			n->moved = xrealloc(n->moved, (n->nmoved + 2) * sizeof *n->moved);
			n->moved[n->nmoved++] = xstrdup(n->list[i]);
			n->moved[n->nmoved++] = xstrdup(now[k]);
			break;
		}
	}
}

/* Folders made, removed or renamed since the last look: LIST responses, a
 * rename as one LIST with OLDNAME (RFC 5465 5.4). */
static void list_changes(struct session *s, struct notify *n)
{
	char **now;
	size_t nnow = ms_list(&now);
	renames_by_id(n, now, nnow);
	char **renamed = xcalloc(n->nmoved + 1, sizeof *renamed);	/* both names of each */
	size_t nren = 0;
	for (size_t k = 0; k + 1 < n->nmoved; k += 2) {
		const char *from = n->moved[k], *to = n->moved[k + 1];
		if (!in_list(n->list, n->nlist, from) || in_list(now, nnow, from) ||
		    !in_list(now, nnow, to) || in_list(n->list, n->nlist, to))
			continue;	/* not a rename between folders (a DELETE moves it aside) */
		renamed[nren++] = n->moved[k];
		renamed[nren++] = n->moved[k + 1];
		if (wants_name_events(n, from, NE_MAILBOX_NAME) || wants_name_events(n, to, NE_MAILBOX_NAME))
			list_line(s, "", to, from);
	}
	for (size_t i = 0; i < nnow; i++)
		if (!in_list(n->list, n->nlist, now[i]) && !in_list(renamed, nren, now[i]) &&
		    wants_name_events(n, now[i], NE_MAILBOX_NAME))
			list_mailbox_line(s, now[i]);
	for (size_t i = 0; i < n->nlist; i++)
		if (!in_list(now, nnow, n->list[i]) && !in_list(renamed, nren, n->list[i]) &&
		    wants_name_events(n, n->list[i], NE_MAILBOX_NAME))
			list_line(s, "\\NonExistent", n->list[i], NULL);
	free(renamed);
	ms_free_list(n->list, n->nlist);
	n->list = now;
	n->nlist = nnow;
	list_ids(n);
	ms_free_list(n->moved, n->nmoved);
	n->moved = NULL;
	n->nmoved = 0;
}

static void subscription_changes(struct session *s, struct notify *n)
{
	char **now;
	size_t nnow = ms_subscriptions(&now);
	for (size_t i = 0; i < nnow; i++)
		if (!in_list(n->subs, n->nsubs, now[i]) &&
		    wants_name_events(n, now[i], NE_SUBSCRIPTION_CHANGE))
			list_line(s, "\\Subscribed", now[i], NULL);
	for (size_t i = 0; i < n->nsubs; i++)
		if (!in_list(now, nnow, n->subs[i]) &&
		    wants_name_events(n, n->subs[i], NE_SUBSCRIPTION_CHANGE))
			list_line(s, "", n->subs[i], NULL);
	ms_free_list(n->subs, n->nsubs);
	n->subs = now;
	n->nsubs = nnow;
}

/* Are folders whose directory appeared still without their cur/? Then
 * the list is looked at again soon (a few times at most). */
static bool settle(struct notify *n)
{
	size_t k = 0;
	for (size_t i = 0; i < n->nunsettled; i++) {
		char *dir = folder_dir(n->unsettled[i]);
		struct stat st;
		bool waiting = dir && !in_list(n->list, n->nlist, n->unsettled[i]) &&
			       stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
		free(dir);
		if (waiting)
			n->unsettled[k++] = n->unsettled[i];
		else
			free(n->unsettled[i]);
	}
	n->nunsettled = k;
	if (k && ++n->settle_tries <= SETTLE_TRIES)
		return true;
	ms_free_list(n->unsettled, n->nunsettled);
	n->unsettled = NULL;
	n->nunsettled = 0;
	return false;
}

/* ---- the selected folder ---- */

/* In the middle of a command (a line or literal half read, a FETCH still
 * sending): no sequence number may change under the client now. */
static bool mid_command(const struct session *s)
{
	return s->fetch || evbuffer_get_length(s->cr.cmd) || s->cr.in_literal ||
	       evbuffer_get_length(bufferevent_get_input(s->bev));
}

/* MessageNew with fetch attributes: the new messages of each change set of
 * the selected view, fetched once no command runs. */
static void on_view_change(struct session *s, const struct view_changes *c, void *arg)
{
	struct notify *n = arg;
	if (!c->nadded)
		return;
	if (n->npending + c->nadded > MAX_PENDING_FETCH) {
		s_out(s, "* OK [NOTIFICATIONOVERFLOW] Too many new messages to fetch");
		return;
	}
	n->pending = xrealloc(n->pending, (n->npending + c->nadded) * sizeof *n->pending);
	memcpy(n->pending + n->npending, c->added, c->nadded * sizeof *c->added);
	n->npending += c->nadded;
	later(n, 0);
}

static bool hooked(const struct view *v, const struct notify *n)
{
	for (size_t i = 0; v && i < v->nhooks; i++)
		if (v->hooks[i].fn == on_view_change && v->hooks[i].arg == n)
			return true;
	return false;
}

/* Subscribe to the selected view (a new selection is a new view: its
 * predecessor took its subscriptions with it); new UIDs of another view
 * are dropped. */
static void hook_view(struct session *s, struct notify *n)
{
	if (!s->sel || !n->sp->sel_set || !n->sp->fetch_att || hooked(s->sel, n))
		return;
	n->npending = 0;
	view_subscribe(s->sel, on_view_change, n);
}

static void fetch_pending(struct session *s, struct notify *n)
{
	if (!n->npending || !s->sel || mid_command(s))
		return;
	fetch_unsolicited(s, n->sp->fetch_att, n->pending, n->npending);
	n->npending = 0;
}

/* ---- events ---- */

static void process(struct session *s, struct notify *n)
{
	if (n->list_dirty) {
		list_changes(s, n);
		n->list_dirty = settle(n);
	}
	if (n->subs_dirty) {
		subscription_changes(s, n);
		n->subs_dirty = false;
	}
	hook_view(s, n);
	if (!rewatch(s, n) && !n->overflowed) {
		n->overflowed = true;
		s_out(s, "* OK [NOTIFICATIONOVERFLOW] Too many mailboxes to watch; some are not");
	}
	bool defer = false;
	for (size_t i = 0; i < n->nbox; i++) {
		struct nbox *b = &n->box[i];
		if (!b->touched)
			continue;
		if (!is_selected(s, b->name)) {
			look_at(s, n, b);
		} else if (mid_command(s) || s->closing) {
			defer = true;
			continue;
		} else {
			mi_close(view_sync(s, true));
		}
		b->touched = false;
	}
	fetch_pending(s, n);
	if (defer || n->list_dirty || (n->npending && s->sel))
		later(n, 100);
}

static void root_event(struct notify *n, const struct inotify_event *e)
{
	if (!strcmp(e->name, "subscriptions")) {
		n->subs_dirty = true;
		return;
	}
	if (e->name[0] != '.' || !(e->mask & IN_ISDIR) || !ms_valid_name(e->name + 1))
		return;
	n->list_dirty = true;
	if ((e->mask & (IN_CREATE | IN_MOVED_TO)) && n->nunsettled < MAX_UNSETTLED) {
		n->unsettled = xrealloc(n->unsettled, (n->nunsettled + 1) * sizeof *n->unsettled);
		n->unsettled[n->nunsettled++] = xstrdup(e->name + 1);
		n->settle_tries = 0;
	}
	/* a rename shows as a MOVED_FROM and a MOVED_TO with one cookie */
	if (e->mask & IN_MOVED_FROM) {
		free(n->moved_from);
		n->moved_from = xstrdup(e->name + 1);
		n->moved_cookie = e->cookie;
	} else if ((e->mask & IN_MOVED_TO) && n->moved_from && e->cookie == n->moved_cookie &&
		   n->nmoved < 2 * MS_MAX_FOLDERS) {
		n->moved = xrealloc(n->moved, (n->nmoved + 2) * sizeof *n->moved);
		n->moved[n->nmoved++] = n->moved_from;
		n->moved[n->nmoved++] = xstrdup(e->name + 1);
		n->moved_from = NULL;
	}
}

static void on_inotify(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct notify *n = s->notify;
	char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t r;
	while ((r = read(fd, buf, sizeof buf)) > 0) {
		for (char *p = buf; p < buf + r;) {
			const struct inotify_event *e = (const struct inotify_event *)p;
			p += sizeof *e + e->len;
			if (e->mask & IN_Q_OVERFLOW) {
				n->list_dirty = n->subs_dirty = true;
				for (size_t i = 0; i < n->nbox; i++)
					n->box[i].touched = true;
			} else if (e->wd == n->wd_root && e->len) {
				root_event(n, e);
			}
			for (size_t i = 0; i < n->nbox; i++)
				if (e->wd == n->box[i].wd_new || e->wd == n->box[i].wd_cur)
					n->box[i].touched = true;
		}
	}
	process(s, n);
}

/* Polling: what moved since the last look becomes what inotify would have
 * said (renames show as a folder gone and one made: no cookie pairs them). */
static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	struct notify *n = s->notify;
	bool any = false;
	if (dirpoll_changed(".", &n->seen_root))
		any = n->list_dirty = true;
	if (dirpoll_changed("subscriptions", &n->seen_subs))
		any = n->subs_dirty = true;
	for (size_t i = 0; i < n->nbox; i++)
		if (dirpoll_folder_changed(n->box[i].dir, n->box[i].seen))
			any = n->box[i].touched = true;
	if (any)
		process(s, n);
}

/* No inotify instance or watch left for the uid: poll everything watched.
 * What inotify had not told yet is looked at once (the lists, each folder). */
static void start_polling(struct session *s, struct notify *n)
{
	static bool said;
	if (!said)
		log_warn("user=%s: NOTIFY: inotify: %m; polling the watched mailboxes every %d ms",
			 s->user, DIRPOLL_MS);
	said = true;
	if (n->ev)
		event_free(n->ev);
	if (n->fd >= 0)
		close(n->fd);
	n->fd = n->wd_root = -1;
	dirpoll_changed(".", &n->seen_root);
	dirpoll_changed("subscriptions", &n->seen_subs);
	for (size_t i = 0; i < n->nbox; i++) {
		struct nbox *b = &n->box[i];
		b->wd_new = b->wd_cur = -1;
		dirpoll_folder_changed(b->dir, b->seen);
		b->touched = true;
	}
	list_ids(n);
	n->list_dirty = n->subs_dirty = true;
	n->ev = event_new(s->base, -1, EV_PERSIST, on_poll, s);
	struct timeval tv = { 0, DIRPOLL_MS * 1000 };
	event_add(n->ev, &tv);
	if (n->later)
		later(n, 0);
}

static void on_later(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	if (s->notify)
		process(s, s->notify);
}

static void later(struct notify *n, int msecs)
{
	struct timeval tv = { 0, msecs * 1000 };
	if (!evtimer_pending(n->later, NULL))
		evtimer_add(n->later, &tv);
}

/* ---- starting and stopping ---- */

static void notify_free(struct session *s, struct notify *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->nbox; i++)
		unwatch(n, &n->box[i]);
	free(n->box);
	if (hooked(s->sel, n))
		view_unsubscribe(s->sel, on_view_change, n);
	if (n->ev)
		event_free(n->ev);
	if (n->later)
		event_free(n->later);
	if (n->fd >= 0)
		close(n->fd);
	ms_free_list(n->list, n->nlist);
	free(n->ids);
	ms_free_list(n->subs, n->nsubs);
	ms_free_list(n->moved, n->nmoved);
	free(n->moved_from);
	ms_free_list(n->unsettled, n->nunsettled);
	free(n->pending);
	notify_spec_free(n->sp);
	free(n);
}

void notify_stop(struct session *s)
{
	struct notify *n = s->notify;
	s->notify = NULL;
	notify_free(s, n);
}

/* NOTIFY SET STATUS: each watched folder's state now (not the selected one). */
static void initial_status(struct session *s, struct notify *n)
{
	unsigned items = ST_UIDVALIDITY | ST_UIDNEXT | ST_MESSAGES | ST_UNSEEN;
	for (size_t g = 0; g < n->sp->ngroups; g++)
		if (n->sp->groups[g].events & (NE_FLAG_CHANGE | NE_ANNOTATION_CHANGE))
			items |= ST_HIGHESTMODSEQ;
	for (size_t i = 0; i < n->nbox; i++) {
		if (is_selected(s, n->box[i].name))
			continue;
		char why[256];
		struct mi *mi = mi_open(n->box[i].dir, NULL, NULL, why, sizeof why);
		if (!mi)
			continue;
		status_out(s, n->box[i].name, mi, items);
		remember(&n->box[i], mi);
		mi_close(mi);
	}
}

const char *notify_start(struct session *s, struct notify_spec *sp)
{
	struct notify *n = xcalloc(1, sizeof *n);
	n->sp = sp;
	n->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	n->wd_root = n->fd < 0 ? -1 :
		inotify_add_watch(n->fd, ".", IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO);
	if (n->wd_root < 0)
		start_polling(s, n);
	n->nlist = ms_list(&n->list);
	list_ids(n);
	n->nsubs = ms_subscriptions(&n->subs);
	bool idle = s->notify && s->notify->idle;
	n->idle = idle;
	if (!rewatch(s, n)) {
		notify_free(s, n);
		return "[NOTIFICATIONOVERFLOW] Too many mailboxes to watch";
	}
	notify_stop(s);
	s->notify = n;
	if (n->fd >= 0) {
		n->ev = event_new(s->base, n->fd, EV_READ | EV_PERSIST, on_inotify, s);
		event_add(n->ev, NULL);
	}
	n->later = evtimer_new(s->base, on_later, s);
	hook_view(s, n);
	if (sp->status)
		initial_status(s, n);
	return NULL;
}

/* ---- for the rest of the session ---- */

bool notify_immediate_expunges(const struct session *s)
{
	return s->notify && s->notify->sp->sel_set && s->notify->sp->sel_immediate &&
	       (s->notify->sp->sel_events & NE_MESSAGE_EXPUNGE);
}

bool notify_hides_flag_changes(const struct session *s)
{
	return s->notify && s->notify->sp->sel_set && !(s->notify->sp->sel_events & NE_FLAG_CHANGE);
}

void notify_after_command(struct session *s)
{
	struct notify *n = s->notify;
	if (!n)
		return;
	hook_view(s, n);
	if (!rewatch(s, n) && !n->overflowed) {
		n->overflowed = true;
		s_out(s, "* OK [NOTIFICATIONOVERFLOW] Too many mailboxes to watch; some are not");
	}
	if (n->npending)
		later(n, 0);
}

bool notify_idle(struct session *s, bool on)
{
	struct notify *n = s->notify;
	if (!n)
		return false;
	n->idle = on;
	rewatch(s, n);
	return true;
}
