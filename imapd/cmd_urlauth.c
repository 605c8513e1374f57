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
#include "imapd/fetch_stream.h"
#include "common/mailstore.h"
#include "common/mime.h"
#include "common/mime_binconv.h"
#include "common/mime_stream.h"
#include "common/util.h"

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

/* Open what url names if this session may read it (its own user's URL:
 * checked here). 0, -1: nothing (NIL), 1: another user's (ask the mail
 * role). */
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

/* BINARY (RFC 5524): the part's octets with the transfer encodings undone;
 * of the message itself or a message/rfc822 part, every body part's. */
struct bin_count {
	uint64_t size;
	bool nul;
};

static int bin_count(void *arg, const char *p, size_t n)
{
	struct bin_count *c = arg;
	c->size += n;
	c->nul = c->nul || memchr(p, '\0', n) != NULL;
	return 0;
}

static int bin_add(void *arg, const char *p, size_t n)
{
	return evbuffer_add(arg, p, n);
}

/* The MIME part BINARY and BODYPARTSTRUCTURE speak of: the section's, or
 * the message's own when the URL names the whole message. */
static const struct mime_part *url_mime_part(struct url_data *d)
{
	if (!d->m && !d->text && (d->m = mime_parse_fd(d->fd, UINT64_MAX, NULL)))
		d->part = d->m->root;
	return d->part;
}

/* " ~{n}" or " {n}" and the octets; false when the encoding cannot be undone. */
static bool binary_out(struct url_data *d, struct evbuffer *b)
{
	const struct mime_part *p = url_mime_part(d);
	struct bin_count c = { 0, false };
	if (!p || mime_binary_convert(d->m, d->fd, p, bin_count, &c) < 0)
		return false;
	evbuffer_add_printf(b, "%s{%llu}\r\n", c.nul ? "~" : "", (unsigned long long)c.size);
	size_t before = evbuffer_get_length(b);
	if (mime_binary_convert(d->m, d->fd, p, bin_add, b) < 0 || evbuffer_get_length(b) - before != c.size)
		return false;	/* the file changed under us: cannot happen with Maildir */
	return true;
}

/* The encoding names of the original parts on the tree of their binary
 * form (trees of the same shape). */
static void keep_encodings(const struct mime_part *from, struct mime_part *to, int depth)
{
	if (!from || !to || depth > 2 * MIME_MAX_DEPTH)
		return;
	free(to->enc);
	to->enc = from->enc ? xstrdup(from->enc) : NULL;
	keep_encodings(from->msg, to->msg, depth + 1);
	const struct mime_part *a = from->children;
	for (struct mime_part *c = to->children; a && c; a = a->next, c = c->next)
		keep_encodings(a, c, depth + 1);
}

/* BODYPARTSTRUCTURE: of the part; with BINARY (bin: its literal) of the
 * part as BINARY gives it (sizes and lines of the decoded octets), the
 * transfer encodings named as they are stored, as Dovecot does. */
static void part_structure(struct url_data *d, struct evbuffer *bin, struct evbuffer *b)
{
	const struct mime_part *p = url_mime_part(d);
	if (!p) {
		evbuffer_add(b, "NIL", 3);
		return;
	}
	if (!bin) {
		mime_bodystructure(d->m, p, true, b);
		return;
	}
	/* the part's own header (none for the whole message) + the octets */
	struct evbuffer *img = evbuffer_new();
	if (p != d->m->root && p->hdr_len <= MIME_MAX_HEADER)
		evbuffer_add(img, d->m->buf + p->hdr_off, p->hdr_len);
	const char *lit = (const char *)evbuffer_pullup(bin, -1), *nl = memchr(lit, '\n', evbuffer_get_length(bin));
	size_t skip = nl ? (size_t)(nl + 1 - lit) : 0;
	evbuffer_add(img, lit + skip, evbuffer_get_length(bin) - skip);
	size_t len = evbuffer_get_length(img);
	struct mime_msg *t = mime_parse((const char *)evbuffer_pullup(img, -1), len);
	keep_encodings(p, t->root, 0);
	mime_bodystructure(t, t->root, true, b);
	mime_free(t);
	evbuffer_free(img);
}

/* "* URLFETCH url ..." for an URL of this user, opened. */
static void fetch_own(struct session *s, const char *url, unsigned flags, struct url_data *d)
{
	struct fstream *fs = fs_new();
	struct evbuffer *b = fs_text(fs), *bin = NULL;
	evbuffer_add_printf(b, "* URLFETCH ");
	astring_out(b, url);
	if (flags & UF_BINARY) {
		bin = evbuffer_new();
		if (!binary_out(d, bin)) {
			evbuffer_add_printf(b, " NIL\r\n");	/* an encoding BINARY cannot undo */
			goto send;
		}
	}
	const char *sp = "";
	if (flags & UF_EXTENDED) {
		evbuffer_add(b, " (", 2);
		if (flags & UF_BPS) {
			evbuffer_add(b, "BODYPARTSTRUCTURE ", 18);
			part_structure(d, bin, b);
			sp = " ";
		}
		if (flags & (UF_BODY | UF_BINARY))
			evbuffer_add_printf(b, "%s%s ", sp, flags & UF_BINARY ? "BINARY" : "BODY");
	} else {
		evbuffer_add(b, " ", 1);
	}
	if (bin) {
		evbuffer_add_buffer(b, bin);
	} else if (!(flags & UF_EXTENDED) || (flags & UF_BODY)) {
		if (d->text) {
			evbuffer_add_printf(b, "{%llu}\r\n", (unsigned long long)d->len);
			evbuffer_add_buffer(b, d->text);
		} else {
			fs_range(fs, d->fd, d->off, d->len, false);
		}
	}
	evbuffer_add_printf(fs_text(fs), "%s\r\n", flags & UF_EXTENDED ? ")" : "");
send:
	/* the part goes out whole (bounded by the size of a message) */
	fs_send(fs, s_buf(s), SIZE_MAX);
	fs_free(fs);
	if (bin)
		evbuffer_free(bin);
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
		struct url_data d;
		int r = open_own(s, url, &d);
		if (r == 0) {
			fetch_own(s, url, flags, &d);
			url_part_close(&d);
		} else {
			struct evbuffer *b = evbuffer_new();
			evbuffer_add_printf(b, "* URLFETCH ");
			astring_out(b, url);
			evbuffer_add_printf(b, " NIL\r\n");
			evbuffer_add_buffer(s_buf(s), b);
			evbuffer_free(b);
		}
		free(url);
		if (ip_eol(ip))
			break;
	}
	if (!ip_eol(ip))
		s_no(s, "[LIMIT] At most %d URLs at once", URLAUTH_MAX_URLS);
	else
		s_ok(s, "URLFETCH completed");
}
