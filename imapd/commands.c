/* commands.c — the IMAP command table, dispatch, and the commands too small
 * for a file of their own (CAPABILITY, NOOP, CHECK, LOGOUT, ID, ENABLE). */
#include "imapd/commands.h"
#include "imapd/id.h"
#include "imapd/imapd.h"
#include "imapd/notify.h"
#include "common/mailindex.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { ST_AUTH = 1, ST_SEL = 2 };

static void cmd_capability(struct session *s, struct ip *ip, bool uid);
static void cmd_noop(struct session *s, struct ip *ip, bool uid);
static void cmd_logout(struct session *s, struct ip *ip, bool uid);
static void cmd_id(struct session *s, struct ip *ip, bool uid);
static void cmd_enable(struct session *s, struct ip *ip, bool uid);
static void cmd_relogin(struct session *s, struct ip *ip, bool uid);

static const struct command {
	const char *name;
	int states;
	bool uid_ok;	/* valid after UID */
	cmd_fn fn;
} commands[] = {
	{ "CAPABILITY", ST_AUTH | ST_SEL, false, cmd_capability },
	{ "NOOP", ST_AUTH | ST_SEL, false, cmd_noop },
	{ "CHECK", ST_SEL, false, cmd_noop },
	{ "LOGOUT", ST_AUTH | ST_SEL, false, cmd_logout },
	{ "ID", ST_AUTH | ST_SEL, false, cmd_id },
	{ "ENABLE", ST_AUTH | ST_SEL, false, cmd_enable },
	{ "LOGIN", ST_AUTH | ST_SEL, false, cmd_relogin },
	{ "AUTHENTICATE", ST_AUTH | ST_SEL, false, cmd_relogin },
	{ "STARTTLS", ST_AUTH | ST_SEL, false, cmd_relogin },
	{ "SELECT", ST_AUTH | ST_SEL, false, cmd_select },
	{ "EXAMINE", ST_AUTH | ST_SEL, false, cmd_examine },
	{ "CREATE", ST_AUTH | ST_SEL, false, cmd_create },
	{ "DELETE", ST_AUTH | ST_SEL, false, cmd_delete },
	{ "RENAME", ST_AUTH | ST_SEL, false, cmd_rename },
	{ "SUBSCRIBE", ST_AUTH | ST_SEL, false, cmd_subscribe },
	{ "UNSUBSCRIBE", ST_AUTH | ST_SEL, false, cmd_unsubscribe },
	{ "LIST", ST_AUTH | ST_SEL, false, cmd_list },
	{ "LSUB", ST_AUTH | ST_SEL, false, cmd_lsub },
	{ "STATUS", ST_AUTH | ST_SEL, false, cmd_status },
	{ "NAMESPACE", ST_AUTH | ST_SEL, false, cmd_namespace },
	{ "APPEND", ST_AUTH | ST_SEL, false, cmd_append },
	{ "NOTIFY", ST_AUTH | ST_SEL, false, cmd_notify },
	{ "IDLE", ST_AUTH | ST_SEL, false, cmd_idle },
	{ "CLOSE", ST_SEL, false, cmd_close },
	{ "UNSELECT", ST_SEL, false, cmd_unselect },
	{ "EXPUNGE", ST_SEL, true, cmd_expunge },
	{ "SEARCH", ST_SEL, true, cmd_search },
	{ "FETCH", ST_SEL, true, cmd_fetch },
	{ "STORE", ST_SEL, true, cmd_store },
	{ "COPY", ST_SEL, true, cmd_copy },
	{ "MOVE", ST_SEL, true, cmd_move },
	{ "SORT", ST_SEL, true, cmd_sort },
	{ "CANCELUPDATE", ST_SEL, false, cmd_cancelupdate },
	{ "COMPRESS", ST_AUTH | ST_SEL, false, cmd_compress },
	{ "GETQUOTAROOT", ST_AUTH | ST_SEL, false, cmd_getquotaroot },
	{ "GETQUOTA", ST_AUTH | ST_SEL, false, cmd_getquota },
	{ "SETQUOTA", ST_AUTH | ST_SEL, false, cmd_setquota },
	{ "THREAD", ST_SEL, true, cmd_thread },
	{ "GENURLAUTH", ST_AUTH | ST_SEL, false, cmd_genurlauth },
	{ "RESETKEY", ST_AUTH | ST_SEL, false, cmd_resetkey },
	{ "URLFETCH", ST_AUTH | ST_SEL, false, cmd_urlfetch },
	{ "GETMETADATA", ST_AUTH | ST_SEL, false, cmd_getmetadata },
	{ "SETMETADATA", ST_AUTH | ST_SEL, false, cmd_setmetadata },
};

/* ---- simple commands ---- */

static void cmd_capability(struct session *s, struct ip *ip, bool uid)
{
	if (!ip_eol(ip)) {
		s_bad(s, "Syntax: CAPABILITY");
		return;
	}
	s_out(s, "* CAPABILITY %s APPENDLIMIT=%llu", CAPS_AUTHED,
	      (unsigned long long)s->lim.message_max);
	s_ok(s, "CAPABILITY completed");
}

static void cmd_noop(struct session *s, struct ip *ip, bool uid)
{
	if (!ip_eol(ip)) {
		s_bad(s, "Syntax: NOOP");
		return;
	}
	if (s->sel) {
		struct mi *mi = view_sync(s, true);
		mi_close(mi);
	}
	s_ok(s, "NOOP completed");
}

static void cmd_logout(struct session *s, struct ip *ip, bool uid)
{
	s_out(s, "* BYE Logging out");
	s_ok(s, "LOGOUT completed");
	s->closing = true;
}

static void cmd_id(struct session *s, struct ip *ip, bool uid)
{
	const char *bad = id_check(ip);
	if (bad) {
		s_bad(s, "%s", bad);
		return;
	}
	s_out(s, ID_RESPONSE);
	s_ok(s, "ID completed");
}

/* ENABLE (RFC 5161): CONDSTORE, QRESYNC (implies CONDSTORE, RFC 7162 3.2.3)
 * IMAP4rev2 (RFC 9051 6.3.1) and UTF8=ACCEPT (RFC 6855 3); others are
 * ignored. */
static void cmd_enable(struct session *s, struct ip *ip, bool uid)
{
	bool cs = false, qr = false, r2 = false, u8 = false;
	for (int i = 0; i < 32; i++) {
		if (!ip_sp(ip)) {
			s_bad(s, "Syntax: ENABLE capability...");
			return;
		}
		char *a = ip_atom(ip);
		if (!a) {
			s_bad(s, "Syntax: ENABLE capability...");
			return;
		}
		cs |= !strcasecmp(a, "CONDSTORE");
		qr |= !strcasecmp(a, "QRESYNC");
		r2 |= !strcasecmp(a, "IMAP4rev2");
		u8 |= !strcasecmp(a, "UTF8=ACCEPT");
		free(a);
		if (ip_eol(ip))
			break;
	}
	s_out(s, "* ENABLED%s%s%s%s", cs && !s->condstore ? " CONDSTORE" : "",
	      qr && !s->qresync ? " QRESYNC" : "", r2 && !s->rev2 ? " IMAP4rev2" : "",
	      u8 && !s->utf8 ? " UTF8=ACCEPT" : "");
	s->utf8 |= u8;
	if (cs || qr)
		condstore_enable(s);
	s->qresync |= qr;
	if (r2 && !s->rev2) {
		s->rev2 = true;
		if (s->sel)	/* \Recent does not exist in IMAP4rev2 */
			view_forget_recent(s->sel);
	}
	s_ok(s, "ENABLE completed");
}

static void cmd_relogin(struct session *s, struct ip *ip, bool uid)
{
	s_bad(s, "Already authenticated");
}

/* ---- dispatch ---- */

static void handle_command(struct session *s)
{
	size_t len = evbuffer_get_length(s->cr.cmd);
	const char *buf = (const char *)evbuffer_pullup(s->cr.cmd, -1);
	struct ip ip;
	ip_init(&ip, buf, len);
	ip.utf8 = s_utf8_names(s);
	free(s->tag);
	s->tag = ip_tag(&ip);
	char *name = NULL;
	if (!s->tag || !ip_sp(&ip) || !(name = ip_atom(&ip))) {
		s_bad(s, "Missing or invalid tag or command");
		free(name);
		return;
	}
	bool uid = false;
	if (!strcasecmp(name, "UID")) {
		free(name);
		name = NULL;
		if (!ip_sp(&ip) || !(name = ip_atom(&ip))) {
			s_bad(s, "Syntax: UID command");
			return;
		}
		uid = true;
	}
	const struct command *c = NULL;
	for (size_t i = 0; i < ARRAY_LEN(commands); i++)
		if (!strcasecmp(commands[i].name, name))
			c = &commands[i];
	if (!c || (uid && !c->uid_ok)) {
		s_bad(s, "Unknown command %s%.40s", uid ? "UID " : "", name);
	} else if (!(c->states & (s->sel ? ST_SEL : ST_AUTH))) {
		s_bad(s, "%s is valid only when a mailbox is selected", c->name);
	} else {
		s->in_fetch_like = !uid && (c->fn == cmd_fetch || c->fn == cmd_store || c->fn == cmd_search);
		c->fn(s, &ip, uid);
		s->in_fetch_like = false;
	}
	notify_after_command(s);
	free(name);
}


static void session_end(struct session *s)
{
	append_discard(s);	/* the client left in the middle of an APPEND */
	fetch_job_free(s->fetch);	/* ... or of a FETCH */
	s->fetch = NULL;
	notify_stop(s);
	view_free(s->sel);
	s->sel = NULL;
}

const struct session_ops imap_session_ops = {
	.command = handle_command,
	.idle_input = idle_input,
	.append_literal = append_literal,
	.append_discard = append_discard,
	.fetch_pump = fetch_pump,
	.end = session_end,
	.resume = idle_resume,
	.update = idle_update,
};
