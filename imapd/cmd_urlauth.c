/* cmd_urlauth.c — URLAUTH (RFC 4467): GENURLAUTH, RESETKEY and URLFETCH,
 * with URLAUTH=BINARY's fetch modifiers (RFC 5524).
 *
 * A URL is authorised by its owner's mailbox access key (urlauth.h). A URL
 * of this session's own user is checked and read here. One of another user
 * cannot be, since this process is confined to its own user's Maildir: such
 * URLs are NIL for now. */
#include "imapd/commands.h"
#include "imapd/urlauth.h"
#include "imapd/urlpart.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/mailstore.h"
#include "common/mime.h"
#include "common/urlfetch.h"
#include "common/util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define URLAUTH_MAX_URLS 100	/* URLs per GENURLAUTH / URLFETCH */

/* An astring: an atom when every octet may be one, else quoted. */
static void astring_out(struct evbuffer *b, const char *s)
{
	bool atom = *s != '\0';
	for (const char *p = s; *p && atom; p++)
		atom = (unsigned char)*p > 0x20 && (unsigned char)*p < 0x7f && !strchr("(){%*\"\\", *p);
	if (atom)
		evbuffer_add(b, s, strlen(s));
	else
		imap_quote(b, s, strlen(s));
}

static struct mi *session_open(void *arg, const char *dir)
{
	return open_folder(arg, dir);
}

/* ---- GENURLAUTH ---- */

/* The URL with its token, or NULL with *why. */
static char *generate(struct session *s, const char *rump, const char *mech, const char **why)
{
	struct imap_url u;
	*why = "Invalid URL";
	if (imap_url_parse(rump, &u) < 0)
		return NULL;
	char *full = NULL, *owner = imap_url_owner(&u), *dir = NULL;
	struct url_data d;
	if (strcasecmp(mech, URLAUTH_MECH))
		*why = "Unsupported URLAUTH mechanism";
	else if (!owner || !u.access || u.mech)
		*why = "Not a URLAUTH rump URL";
	else if (strcasecmp(owner, s->user))
		*why = "Not permitted to generate URLAUTH for another user";
	else if (u.expire >= 0 && u.expire <= (int64_t)time(NULL))
		*why = "URLAUTH has already expired";
	else if (url_part_open(&u, session_open, s, &d, why) == 0)
		url_part_close(&d), dir = url_folder_dir(&u);
	unsigned char key[URLAUTH_KEY_LEN];
	if (dir && urlauth_key(dir, true, key) == 0) {
		char *token = urlauth_sign(key, rump, strlen(rump));
		full = xasprintf("%s:%s:%s", rump, URLAUTH_MECH, token);
		free(token);
		*why = NULL;
	} else if (dir) {
		*why = "[SERVERBUG] Cannot make a mailbox access key";
	}
	free(dir);
	free(owner);
	imap_url_free(&u);
	return full;
}

void cmd_genurlauth(struct session *s, struct ip *ip, bool uid)
{
	struct evbuffer *resp = evbuffer_new();
	evbuffer_add_printf(resp, "* GENURLAUTH");
	const char *why = NULL;
	int n;
	for (n = 0; n < URLAUTH_MAX_URLS && !why; n++) {
		char *rump = NULL, *mech = NULL, *full = NULL;
		if (ip_sp(ip) && (rump = ip_astring(ip, NULL)) && ip_sp(ip) && (mech = ip_atom(ip)))
			full = generate(s, rump, mech, &why);
		else
			why = "";	/* syntax */
		if (full) {
			evbuffer_add(resp, " ", 1);
			astring_out(resp, full);
		}
		free(rump);
		free(mech);
		free(full);
		if (ip_eol(ip))
			break;
	}
	if (why && !*why)
		s_bad(s, "Syntax: GENURLAUTH url mechanism [url mechanism ...]");
	else if (why)
		s_no(s, "%s", why);
	else if (!ip_eol(ip))
		s_no(s, "[LIMIT] At most %d URLs at once", URLAUTH_MAX_URLS);
	else {
		evbuffer_add(resp, "\r\n", 2);
		evbuffer_add_buffer(s_buf(s), resp);
		s_ok(s, "GENURLAUTH completed");
	}
	evbuffer_free(resp);
}

/* ---- RESETKEY ---- */

void cmd_resetkey(struct session *s, struct ip *ip, bool uid)
{
	if (ip_eol(ip)) {	/* every mailbox */
		char **names;
		size_t n = ms_list(&names);
		int bad = 0;
		for (size_t i = 0; i < n; i++) {
			char *dir = folder_dir(names[i]);
			bad += dir && urlauth_reset(dir) < 0;
			free(dir);
		}
		ms_free_list(names, n);
		if (bad)
			s_no(s, "[SERVERBUG] Cannot reset a mailbox access key");
		else
			s_ok(s, "RESETKEY completed");
		return;
	}
	char *name = ip_sp(ip) ? arg_mailbox(ip) : NULL, *mech = NULL;
	bool ok = name != NULL;
	while (ok && !ip_eol(ip)) {	/* mechanisms: INTERNAL is the only one */
		ok = ip_sp(ip) && (mech = ip_atom(ip)) && !strcasecmp(mech, URLAUTH_MECH);
		free(mech);
		mech = NULL;
	}
	char *dir = name && ms_exists(name) ? folder_dir(name) : NULL;
	if (!ok)
		s_bad(s, "Syntax: RESETKEY [mailbox [INTERNAL]]");
	else if (!dir)
		s_no(s, "[NONEXISTENT] No such mailbox");
	else if (urlauth_reset(dir) < 0)
		s_no(s, "[SERVERBUG] Cannot reset the mailbox access key");
	else
		s_ok(s, "RESETKEY completed");
	free(dir);
	free(name);
}

/* ---- URLFETCH ---- */

enum { UF_BODY = 1, UF_BINARY = 2, UF_BPS = 4, UF_EXTENDED = 8 };

static char *remote_path;	/* the mail role's URLAUTH socket (urlfetch.h) */
static int remote_chan = -1;	/* this session's connection to it */

void urlauth_set_remote(const char *path)
{
	free(remote_path);
	remote_path = xstrdup(path);
}

void urlauth_connect_remote(void)
{
	if (remote_path && (remote_chan = ipc_connect(remote_path)) < 0)
		log_warn("urlauth: cannot connect to %s: %s", remote_path, strerror(errno));
}

int urlauth_channel(void)
{
	return remote_chan;
}

int urlauth_remote(const char *url, unsigned flags, struct urlfetch_reply *r)
{
	if (urlfetch_ask_via(remote_chan, url, flags, r) < 0) {
		memset(r, 0, sizeof *r);
		r->fd = -1;
		return -1;
	}
	return r->ok ? 0 : -1;
}

/* Open what url names if this session may read it (its own user's URL:
 * checked here). 0, -1: nothing (NIL), 1: another user's (the mail role
 * checks and reads it). */
static int open_own(struct session *s, const char *url, struct url_data *d)
{
	struct imap_url u;
	if (imap_url_parse(url, &u) < 0)
		return -1;
	char *owner = imap_url_owner(&u), *dir = NULL;
	struct urlauth_who who = { s->user, false };
	const char *why;
	int r = -1;
	if (owner && u.mech && strcasecmp(owner, s->user))
		r = 1;
	else if (owner && (dir = url_folder_dir(&u)) && urlauth_allows(&u, &who, &why) &&
		 urlauth_valid(&u, url, dir, &why))
		r = url_part_open(&u, session_open, s, d, &why);
	free(dir);
	free(owner);
	imap_url_free(&u);
	return r;
}

static unsigned wanted(unsigned flags)
{
	return (flags & UF_BINARY ? URLF_BINARY : 0) | (flags & UF_BPS ? URLF_BPS : 0) |
	       (!(flags & UF_EXTENDED) || (flags & (UF_BODY | UF_BINARY)) ? URLF_DATA : 0);
}

/* The response up to the octets (an nstring, or RFC 5524's list). */
static void response_head(struct evbuffer *b, const char *url, unsigned flags, const struct url_out *o)
{
	evbuffer_add_printf(b, "* URLFETCH ");
	astring_out(b, url);
	const char *lit = flags & UF_BINARY && o->nul ? "~" : "";
	if (!(flags & UF_EXTENDED)) {
		evbuffer_add_printf(b, " {%llu}\r\n", (unsigned long long)o->size);
		return;
	}
	const char *sp = "";
	evbuffer_add(b, " (", 2);
	if (flags & UF_BPS) {
		evbuffer_add_printf(b, "BODYPARTSTRUCTURE %s", o->bps ? o->bps : "NIL");
		sp = " ";
	}
	if (flags & (UF_BODY | UF_BINARY))
		evbuffer_add_printf(b, "%s%s %s{%llu}\r\n", sp, flags & UF_BINARY ? "BINARY" : "BODY", lit,
				    (unsigned long long)o->size);
}

static int to_evbuffer(void *arg, const char *p, size_t n)
{
	return evbuffer_add(arg, p, n);
}

/* "* URLFETCH url ..." built in b: from this session's own Maildir (d
 * open), or from the mail role. false: NIL. */
static bool fetch_own(struct evbuffer *b, const char *url, unsigned flags, struct url_data *d)
{
	struct url_out o;
	unsigned w = wanted(flags);
	bool ok = url_part_describe(d, w, &o) == 0;
	if (ok) {
		response_head(b, url, flags, &o);
		ok = !(w & URLF_DATA) || url_part_write(d, w, to_evbuffer, b) == 0;
	}
	url_out_free(&o);
	return ok;
}

static bool fetch_remote(struct evbuffer *b, const char *url, unsigned flags)
{
	struct urlfetch_reply r;
	unsigned w = wanted(flags);
	bool ok = urlauth_remote(url, w, &r) == 0;
	if (ok) {
		struct url_out o = { r.size, r.nul, r.bps };
		response_head(b, url, flags, &o);
		ok = !(w & URLF_DATA) || urlfetch_read(&r, to_evbuffer, b) == 0;
	}
	urlfetch_reply_free(&r);
	return ok;
}

/* One URL's response: the octets go out whole (bounded by the size of a
 * message). */
static void fetch_one(struct session *s, const char *url, unsigned flags)
{
	struct evbuffer *b = evbuffer_new();
	struct url_data d;
	int r = open_own(s, url, &d);
	bool ok = r == 0 ? fetch_own(b, url, flags, &d) : r > 0 && fetch_remote(b, url, flags);
	if (r == 0)
		url_part_close(&d);
	if (ok) {
		evbuffer_add_printf(b, "%s\r\n", flags & UF_EXTENDED ? ")" : "");
	} else {
		evbuffer_drain(b, evbuffer_get_length(b));
		evbuffer_add_printf(b, "* URLFETCH ");
		astring_out(b, url);
		evbuffer_add_printf(b, " NIL\r\n");
	}
	evbuffer_add_buffer(s_buf(s), b);
	evbuffer_free(b);
}

/* url or "(" url *(SP modifier) ")"; false on a syntax error. */
static bool fetch_param(struct ip *ip, char **url, unsigned *flags)
{
	*flags = 0;
	bool paren = ip_char(ip, '(');
	if (!(*url = ip_astring(ip, NULL)))
		return false;
	if (!paren)
		return true;
	*flags = UF_EXTENDED;
	for (int i = 0; i < 3 && ip_char(ip, ' '); i++) {
		char *m = ip_atom(ip);
		unsigned f = !m ? 0 : !strcasecmp(m, "BODY") ? UF_BODY : !strcasecmp(m, "BINARY") ? UF_BINARY
			   : !strcasecmp(m, "BODYPARTSTRUCTURE") ? UF_BPS : 0;
		free(m);
		if (!f)
			return false;
		*flags |= f;
	}
	if ((*flags & UF_BODY) && (*flags & UF_BINARY))
		return false;
	if (*flags == UF_EXTENDED)
		*flags |= UF_BODY;
	return ip_char(ip, ')');
}

void cmd_urlfetch(struct session *s, struct ip *ip, bool uid)
{
	int n;
	for (n = 0; n < URLAUTH_MAX_URLS; n++) {
		char *url = NULL;
		unsigned flags;
		if (!ip_sp(ip) || !fetch_param(ip, &url, &flags)) {
			free(url);
			s_bad(s, "Syntax: URLFETCH url / (url [BODY / BINARY] [BODYPARTSTRUCTURE]) ...");
			return;
		}
		fetch_one(s, url, flags);
		free(url);
		if (ip_eol(ip))
			break;
	}
	if (!ip_eol(ip))
		s_no(s, "[LIMIT] At most %d URLs at once", URLAUTH_MAX_URLS);
	else
		s_ok(s, "URLFETCH completed");
}
