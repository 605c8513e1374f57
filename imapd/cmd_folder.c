/* cmd_folder.c — folder commands: CREATE, DELETE, RENAME, (UN)SUBSCRIBE,
 * STATUS, SELECT, EXAMINE and NAMESPACE. LIST/LSUB are in cmd_list.c, APPEND in
 * cmd_append.c. */
#include "imapd/commands.h"
#include "common/log.h"
#include "common/mailindex.h"
#include "common/mailstore.h"
#include "common/mime.h"
#include "common/objectid.h"
#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* One mailbox argument and the end of the command. */
static char *only_mailbox(struct session *s, struct ip *ip, const char *usage)
{
	char *name = NULL;
	if (!ip_sp(ip) || !(name = arg_mailbox(ip)) || !ip_eol(ip)) {
		free(name);
		s_bad(s, "Syntax: %s", usage);
		return NULL;
	}
	return name;
}

/* The MAILBOXID of folder name (RFC 8474), made at first use; false if it
 * can be neither read nor stored. */
static bool mailbox_id(const char *name, char id[OBJECTID_LEN + 1])
{
	char *dir = folder_dir(name);
	bool ok = dir && objectid_mailbox(dir, id) == 0;
	if (dir && !ok)
		log_err("objectid: no MAILBOXID for %s: %m", dir);
	free(dir);
	return ok;
}

#define CREATE_MAX_USES 8

/* One "\Attr" of a USE list (RFC 6154 use-attr). */
static char *use_attr(struct ip *ip)
{
	if (!ip_char(ip, '\\'))
		return NULL;
	char *a = ip_atom(ip);
	char *r = a ? xasprintf("\\%s", a) : NULL;
	free(a);
	return r;
}

/* RFC 4466 create-params after the name: "(USE (\Attr ...))" (RFC 6154),
 * the only parameter there is. The attributes go space-separated into
 * uses; returns 0, -1 on a syntax error, -2 for an attribute tern cannot
 * give a folder (*bad names it). */
static int create_params(struct ip *ip, char *uses, size_t size, char **bad)
{
	*uses = '\0';
	if (ip_eol(ip))
		return 0;
	char *p = NULL;
	bool ok = ip_sp(ip) && ip_char(ip, '(') && (p = ip_atom(ip)) && !strcasecmp(p, "USE") &&
		  ip_sp(ip) && ip_char(ip, '(');
	free(p);
	for (int n = 0; ok && !ip_char(ip, ')'); n++) {
		char *a = (n == 0 || ip_sp(ip)) && n < CREATE_MAX_USES ? use_attr(ip) : NULL;
		if (!a)
			return -1;
		const char *canon = ms_special_use_canon(a);
		if (!canon && !*bad)
			*bad = xstrdup(a);
		else if (canon && !strstr(uses, canon) && strlen(uses) + strlen(canon) + 2 < size)
			snprintf(uses + strlen(uses), size - strlen(uses), "%s%s", *uses ? " " : "", canon);
		free(a);
	}
	if (!ok || !ip_char(ip, ')') || !ip_eol(ip))
		return -1;
	return *bad ? -2 : 0;
}

void cmd_create(struct session *s, struct ip *ip, bool uid)
{
	char *name = NULL, *bad = NULL, uses[128];
	char id[OBJECTID_LEN + 1];
	int pr = 0;
	if (!ip_sp(ip) || !(name = arg_mailbox(ip)) ||
	    (pr = create_params(ip, uses, sizeof uses, &bad)) == -1) {
		s_bad(s, "Syntax: CREATE mailbox [(USE (\\Attr ...))]");
		free(name);
		free(bad);
		return;
	}
	size_t n = strlen(name);
	if (n > 1 && name[n - 1] == MS_SEP)
		name[n - 1] = '\0';	/* RFC 3501: a trailing separator only declares intent */
	if (ms_is_inbox(name) || ms_exists(name))
		s_no(s, "[ALREADYEXISTS] Mailbox already exists");
	else if (!ms_valid_name(name))
		s_no(s, "[CANNOT] Invalid mailbox name");
	else if (pr == -2)
		s_no(s, "[USE] A folder here cannot be %s", bad);
	else if (ms_create(name) < 0)
		s_no(s, "[SERVERBUG] Cannot create mailbox: %s", strerror(errno));
	else if (*uses && ms_set_special_use(name, uses) < 0) {
		/* RFC 6154: a mailbox that cannot have its use is not created */
		int e = errno;
		ms_delete(name);
		s_no(s, "[USE] Cannot record the special use: %s", strerror(e));
	} else if (mailbox_id(name, id))
		s_ok(s, "[MAILBOXID (%s)] CREATE completed", id);
	else
		s_ok(s, "CREATE completed");
	free(name);
	free(bad);
}

void cmd_delete(struct session *s, struct ip *ip, bool uid)
{
	char *name = only_mailbox(s, ip, "DELETE mailbox");
	if (!name)
		return;
	if (ms_is_inbox(name))
		s_no(s, "[CANNOT] INBOX cannot be deleted");
	else if (!ms_exists(name) && mailbox_has_children(name))
		/* a \Noselect level with inferiors (RFC 9051 6.3.4) */
		s_no(s, "[HASCHILDREN] Mailbox has inferior hierarchical names and is not selectable");
	else if (!ms_exists(name))
		s_no(s, "[NONEXISTENT] No such mailbox");
	else if (ms_delete(name) < 0)
		s_no(s, "[SERVERBUG] Cannot delete mailbox: %s", strerror(errno));
	else {
		if (s->sel && !strcmp(s->sel->name, name)) {
			view_free(s->sel);	/* deleting the selected folder deselects it */
			s->sel = NULL;
		}
		s_ok(s, "DELETE completed");
	}
	free(name);
}

/* ms_rename, and a special use the folder had by its name ("Sent") goes
 * along, recorded: a client renaming its Sent folder keeps it \Sent. */
static int rename_folder(const char *from, const char *to)
{
	const char *u = ms_is_inbox(from) ? NULL : ms_special_use(from);
	char *use = u ? xstrdup(u) : NULL;
	int r = ms_rename(from, to);
	if (r == 0 && use && !ms_special_use(to) && ms_set_special_use(to, use) < 0)
		log_warn("rename %s: cannot keep its special use %s: %m", from, use);
	free(use);
	return r;
}

void cmd_rename(struct session *s, struct ip *ip, bool uid)
{
	char *from = NULL, *to = NULL;
	if (!ip_sp(ip) || !(from = arg_mailbox(ip)) || !ip_sp(ip) || !(to = arg_mailbox(ip)) ||
	    !ip_eol(ip)) {
		s_bad(s, "Syntax: RENAME from to");
	} else if (!ms_exists(from)) {
		s_no(s, "[NONEXISTENT] No such mailbox");
	} else if (ms_is_inbox(to) || ms_exists(to)) {
		s_no(s, "[ALREADYEXISTS] Target mailbox exists");
	} else if (!ms_valid_name(to)) {
		s_no(s, "[CANNOT] Invalid mailbox name");
	} else if (!ms_is_inbox(from) && !strncmp(to, from, strlen(from)) && to[strlen(from)] == MS_SEP) {
		s_no(s, "[CANNOT] Cannot move a mailbox under itself");
	} else if (rename_folder(from, to) < 0) {
		s_no(s, "[SERVERBUG] Cannot rename: %s", strerror(errno));
	} else {
		/* the selected folder (or one of its parents) moved: follow it */
		size_t fl = strlen(from);
		if (s->sel && !ms_is_inbox(from) && !strncmp(s->sel->name, from, fl) &&
		    (s->sel->name[fl] == '\0' || s->sel->name[fl] == '.')) {
			char *nn = xasprintf("%s%s", to, s->sel->name + fl);
			char *nd = folder_dir(nn);
			if (nd) {
				free(s->sel->name);
				free(s->sel->dir);
				s->sel->name = nn;
				s->sel->dir = nd;
			} else {
				free(nn);
			}
		}
		s_ok(s, "RENAME completed");
	}
	free(from);
	free(to);
}

void cmd_subscribe(struct session *s, struct ip *ip, bool uid)
{
	char *name = only_mailbox(s, ip, "SUBSCRIBE mailbox");
	if (!name)
		return;
	if (!ms_is_inbox(name) && !ms_valid_name(name))
		s_no(s, "[CANNOT] Invalid mailbox name");
	else if (ms_subscribe(name, true) < 0)
		s_no(s, "[SERVERBUG] Cannot subscribe");
	else
		s_ok(s, "SUBSCRIBE completed");
	free(name);
}

void cmd_unsubscribe(struct session *s, struct ip *ip, bool uid)
{
	char *name = only_mailbox(s, ip, "UNSUBSCRIBE mailbox");
	if (!name)
		return;
	if (ms_subscribe(name, false) < 0)
		s_no(s, "[SERVERBUG] Cannot unsubscribe");
	else
		s_ok(s, "UNSUBSCRIBE completed");
	free(name);
}

void cmd_namespace(struct session *s, struct ip *ip, bool uid)
{
	if (!ip_eol(ip)) {
		s_bad(s, "Syntax: NAMESPACE");
		return;
	}
	s_out(s, "* NAMESPACE ((\"\" \".\")) NIL NIL");
	s_ok(s, "NAMESPACE completed");
}

/* ---- STATUS ---- */

enum { SA_MESSAGES = 1, SA_RECENT = 2, SA_UIDNEXT = 4, SA_UIDVALIDITY = 8, SA_UNSEEN = 16,
       SA_SIZE = 32, SA_HIGHESTMODSEQ = 64, SA_DELETED = 128, SA_DELETED_STORAGE = 256,
       SA_MAILBOXID = 512, SA_APPENDLIMIT = 1024 };
/* items that need every record read */
#define SA_PER_MESSAGE (SA_UNSEEN | SA_SIZE | SA_DELETED | SA_DELETED_STORAGE)

int parse_status_items(struct ip *ip, unsigned *items)
{
	static const struct { const char *name; unsigned bit; } names[] = {
		{ "MESSAGES", SA_MESSAGES }, { "RECENT", SA_RECENT }, { "UIDNEXT", SA_UIDNEXT },
		{ "UIDVALIDITY", SA_UIDVALIDITY }, { "UNSEEN", SA_UNSEEN }, { "SIZE", SA_SIZE },
		{ "HIGHESTMODSEQ", SA_HIGHESTMODSEQ }, { "DELETED", SA_DELETED },
		{ "DELETED-STORAGE", SA_DELETED_STORAGE }, { "MAILBOXID", SA_MAILBOXID },
		{ "APPENDLIMIT", SA_APPENDLIMIT },
	};
	*items = 0;
	if (!ip_char(ip, '('))
		return -1;
	for (int i = 0; i < 20; i++) {
		if (i && ip_char(ip, ')'))
			return *items ? 0 : -1;
		if (i && !ip_sp(ip))
			return -1;
		char *a = ip_atom(ip);
		if (!a)
			return -1;
		unsigned bit = 0;
		for (size_t k = 0; k < ARRAY_LEN(names); k++)
			if (!strcasecmp(a, names[k].name))
				bit = names[k].bit;
		free(a);
		if (!bit)
			return -1;
		*items |= bit;
	}
	return -1;
}

/* "* STATUS name (...)" for a folder; -1 if it cannot be opened. */
int status_line(struct session *s, const char *name, unsigned items)
{
	char *dir = folder_dir(name);
	char why[256];
	struct mi *mi = dir ? mi_open(dir, NULL, NULL, why, sizeof why) : NULL;
	free(dir);
	if (!mi)
		return -1;
	const struct mi_header *h = mi_header(mi);
	uint64_t unseen = 0, size = 0, deleted = 0, dsize = 0;
	if (items & SA_PER_MESSAGE) {
		struct mi_rec *recs;
		size_t nr;
		mi_load(mi, &recs, &nr);
		for (size_t i = 0; i < nr; i++) {
			unseen += !(recs[i].flags & MI_SEEN);
			size += recs[i].size;
			if (recs[i].flags & MI_DELETED) {
				deleted++;
				dsize += recs[i].size;
			}
		}
		mi_recs_free(recs, nr);
	}
	/* those no session has seen yet, and those the selection here has */
	size_t recent = items & SA_RECENT ? mi_count_from(mi, h->first_recent) : 0;
	if (s->sel && !strcmp(s->sel->name, name))
		recent += view_recent(s->sel);
	struct evbuffer *b = s_buf(s);
	evbuffer_add(b, "* STATUS ", 9);
	s_mailbox(s, b, name);
	evbuffer_add(b, " (", 2);
	const char *sp = "";
#define ITEM(bit, fmt, val) if (items & bit) { evbuffer_add_printf(b, "%s" fmt, sp, val); sp = " "; }
	ITEM(SA_MESSAGES, "MESSAGES %u", h->count);
	ITEM(SA_RECENT, "RECENT %zu", recent);
	ITEM(SA_UIDNEXT, "UIDNEXT %u", h->uidnext);
	ITEM(SA_UIDVALIDITY, "UIDVALIDITY %u", h->uidvalidity);
	ITEM(SA_UNSEEN, "UNSEEN %llu", (unsigned long long)unseen);
	ITEM(SA_SIZE, "SIZE %llu", (unsigned long long)size);
	ITEM(SA_HIGHESTMODSEQ, "HIGHESTMODSEQ %llu", (unsigned long long)h->modseq);
	ITEM(SA_DELETED, "DELETED %llu", (unsigned long long)deleted);
	/* RFC 9208 4.2.5: in units of 1024 octets, rounded up */
	ITEM(SA_DELETED_STORAGE, "DELETED-STORAGE %llu", (unsigned long long)((dsize + 1023) / 1024));
	char id[OBJECTID_LEN + 1];	/* (left out if it cannot be had: logged) */
	if (items & SA_MAILBOXID && !mailbox_id(name, id))
		items &= ~(unsigned)SA_MAILBOXID;
	ITEM(SA_MAILBOXID, "MAILBOXID (%s)", id);
	/* RFC 7889 5: every folder has the limit CAPABILITY announces */
	ITEM(SA_APPENDLIMIT, "APPENDLIMIT %llu", (unsigned long long)s->lim.message_max);
#undef ITEM
	evbuffer_add(b, ")\r\n", 3);
	mi_close(mi);
	return 0;
}

void cmd_status(struct session *s, struct ip *ip, bool uid)
{
	char *name = NULL;
	unsigned items;
	if (!ip_sp(ip) || !(name = arg_mailbox(ip)) || !ip_sp(ip) || parse_status_items(ip, &items) < 0 ||
	    !ip_eol(ip)) {
		s_bad(s, "Syntax: STATUS mailbox (items)");
	} else if (!ms_exists(name)) {
		s_no(s, "[NONEXISTENT] No such mailbox");
	} else if (status_line(s, name, items) < 0) {
		s_no(s, "[SERVERBUG] Cannot open mailbox");
	} else {
		s_ok(s, "STATUS completed");
	}
	free(name);
}

/* ---- SELECT / EXAMINE ---- */

struct qresync_req {
	bool on;
	uint64_t uidvalidity, modseq;
	struct seqset known;
	bool have_known;
};

/* QRESYNC (uidvalidity modseq [known-uids [(seqs uids)]]) after "QRESYNC " */
static bool parse_qresync(struct ip *ip, struct qresync_req *q)
{
	if (!ip_char(ip, '(') || !ip_number(ip, UINT32_MAX, &q->uidvalidity) || !ip_sp(ip) ||
	    !ip_number(ip, UINT64_MAX / 2, &q->modseq))
		return false;
	if (ip_char(ip, ' ')) {
		if (ip_peek(ip, '(')) {
			/* sequence match data without known UIDs: accepted, not needed */
		} else {
			char *k = ip_until(ip, " )");
			q->have_known = k && seqset_parse(k, &q->known) && !q->known.last;
			free(k);
			if (!q->have_known)
				return false;
			ip_char(ip, ' ');
		}
		if (ip_char(ip, '(')) {
			char *skip = ip_until(ip, ")");
			free(skip);
			if (!ip_char(ip, ')'))
				return false;
		}
	}
	q->on = true;
	return ip_char(ip, ')');
}

static bool parse_select_params(struct session *s, struct ip *ip, struct qresync_req *q)
{
	if (!ip_char(ip, ' '))
		return true;
	if (!ip_char(ip, '('))
		return false;
	for (int i = 0; i < 4; i++) {
		if (i && ip_char(ip, ')'))
			return true;
		if (i && !ip_sp(ip))
			return false;
		char *a = ip_atom(ip);
		bool ok = a != NULL;
		if (ok && !strcasecmp(a, "CONDSTORE"))
			s->condstore = true;
		else if (ok && !strcasecmp(a, "QRESYNC") && s->qresync)
			ok = ip_sp(ip) && parse_qresync(ip, q);
		else
			ok = false;
		free(a);
		if (!ok)
			return false;
	}
	return false;
}

/* After a SELECT (QRESYNC ...): what the client missed since its modseq. */
static void qresync_report(struct session *s, const struct qresync_req *q)
{
	struct view *v = s->sel;
	if (q->uidvalidity != v->uidvalidity)
		return;	/* the client must resynchronise fully */
	char why[256];
	struct mi *mi = mi_open(v->dir, NULL, NULL, why, sizeof why);
	if (!mi)
		return;
	uint32_t *gone;
	size_t ng = mi_expunged_since(mi, q->modseq, &gone), k = 0;
	for (size_t i = 0; i < ng; i++)
		if (!q->have_known || seqset_has(&q->known, gone[i], UINT32_MAX))
			gone[k++] = gone[i];
	report_vanished(s, gone, k, true);
	free(gone);
	mi_close(mi);
	for (size_t i = 0; i < v->n; i++)
		if (v->m[i].modseq > q->modseq)
			untagged_fetch_flags(s, i, true, true);
}

static void do_select(struct session *s, struct ip *ip, bool readonly)
{
	char *name = NULL;
	struct qresync_req q = { 0 };
	if (!ip_sp(ip) || !(name = arg_mailbox(ip)) || !parse_select_params(s, ip, &q) ||
	    !ip_eol(ip)) {
		s_bad(s, "Syntax: %s mailbox [(CONDSTORE | QRESYNC (uidvalidity modseq [uids]))]",
		      readonly ? "EXAMINE" : "SELECT");
		free(name);
		seqset_free(&q.known);
		return;
	}
	/* any selection ends with the command, even if it fails (RFC 3501 6.3.1);
	 * RFC 7162 3.2.11 and RFC 9051 6.3.2 say so with OK [CLOSED] */
	if (s->sel && (s->qresync || s->rev2))
		s_out(s, "* OK [CLOSED] Previous mailbox closed");
	view_free(s->sel);
	s->sel = NULL;
	int r = view_open(s, name, readonly);
	free(name);
	if (r < 0) {
		seqset_free(&q.known);
		if (r == -1)
			s_no(s, "[NONEXISTENT] No such mailbox");
		else
			s_no(s, "[SERVERBUG] Cannot open mailbox");
		return;
	}
	struct view *v = s->sel;
	size_t recent = 0, unseen = 0;
	for (size_t i = 0; i < v->n; i++) {
		recent += v->m[i].recent;
		if (!unseen && !(v->m[i].flags & MI_SEEN))
			unseen = i + 1;
	}
	untagged_flags(s);
	s_out(s, "* %zu EXISTS", v->n);
	if (s->rev2) {
		/* RFC 9051 6.3.2: a LIST of the mailbox; no RECENT, no UNSEEN */
		list_mailbox_line(s, v->name);
	} else {
		s_out(s, "* %zu RECENT", recent);
		if (unseen)
			s_out(s, "* OK [UNSEEN %zu] First unseen", unseen);
	}
	s_out(s, "* OK [UIDVALIDITY %u] UIDs valid", v->uidvalidity);
	s_out(s, "* OK [UIDNEXT %u] Predicted next UID", v->uidnext);
	char id[OBJECTID_LEN + 1];
	if (mailbox_id(v->name, id))
		s_out(s, "* OK [MAILBOXID (%s)] Ok", id);
	/* on every SELECT/EXAMINE, CONDSTORE enabled or not (RFC 7162 3.1.2.1:
	 * our mailboxes all keep persistent mod-sequences) */
	s_out(s, "* OK [HIGHESTMODSEQ %llu] Highest", (unsigned long long)v->modseq);
	if (q.on)
		qresync_report(s, &q);
	seqset_free(&q.known);
	s_ok(s, "[%s] %s completed", readonly ? "READ-ONLY" : "READ-WRITE", readonly ? "EXAMINE" : "SELECT");
}

void cmd_select(struct session *s, struct ip *ip, bool uid)
{
	do_select(s, ip, false);
}

void cmd_examine(struct session *s, struct ip *ip, bool uid)
{
	do_select(s, ip, true);
}
