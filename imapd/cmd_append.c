/* cmd_append.c — APPEND with MULTIAPPEND (RFC 3502) and CATENATE (RFC 4469).
 *
 * No message literal ever sits in memory: whenever a literal of an APPEND
 * is announced, the command so far is parsed (append.h) to tell a data
 * literal (a message, or a CATENATE TEXT part) from a mailbox name or URL
 * given as a literal. A data literal goes straight into a file of its own
 * in the target folder's tmp/ as it arrives (CRLF -> LF, as Maildir files
 * are stored), once the folder is known to exist and the quota and limits
 * have room; a refusal comes before a synchronising literal is sent, and a
 * non-synchronising one is read and dropped, then refused.
 *
 * At the end of the command every message is put together first: a single
 * literal is its spool file as it stands, a CATENATE message is composed
 * into a new file from its TEXT files and the octets its URLs name. A
 * literal8 (RFC 3516) is spooled exactly as sent and composed too, its
 * binary parts base64-encoded (mime_binary.h): a Maildir file holds lines. Only
 * when all of them exist does the target folder's index take them, all
 * under one lock, so either every message of the command is stored or
 * none (one that fails to go in takes the others back out). */
#include "imapd/append.h"
#include "imapd/append_seal.h"
#include "imapd/commands.h"
#include "imapd/urlauth.h"
#include "imapd/urlpart.h"
#include "common/log.h"
#include "common/mailindex.h"
#include "common/mailstore.h"
#include "common/mime_binary.h"
#include "common/urlfetch.h"
#include "common/util.h"

#include <event2/buffer.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define APPEND_MAX_TOTAL (1024ULL * 1024 * 1024)	/* octets of all literals of one APPEND */

struct append_state {
	char *dir;		/* the target folder's directory, once known */
	char **base;		/* files in DIR/tmp: spooled literals in order (NULL:
				 * dropped), then the messages CATENATE composed */
	size_t n, nspool;
	int fd;			/* the literal being written, -1 */
	uint64_t bytes;		/* literal octets so far */
	const char *err;	/* refused: the NO to give at the command's end */
	bool seal_known;	/* append_seal_begin asked (seal NULL: stored as they come) */
	struct append_seal *seal;	/* encryption at rest: spool files in memory */
};

static struct append_state *state(struct session *s)
{
	if (!s->append) {
		s->append = xcalloc(1, sizeof *s->append);
		s->append->fd = -1;
	}
	return s->append;
}

static void add_file(struct append_state *a, char *base)
{
	a->base = xrealloc(a->base, (a->n + 1) * sizeof *a->base);
	a->base[a->n++] = base;
}

static char *tmp_path(const struct append_state *a, const char *base)
{
	return xasprintf("%s/tmp/%s", a->dir, base);
}

/* The literal just received: written in full? */
static void literal_done(struct session *s, struct append_state *a)
{
	if (a->fd < 0)
		return;
	close(a->fd);
	a->fd = -1;
	if (s->cr.spool_err && !a->err)
		a->err = "[SERVERBUG] Cannot store message";
}

void append_discard(struct session *s)
{
	struct append_state *a = s->append;
	if (!a)
		return;
	if (a->fd >= 0)
		close(a->fd);
	for (size_t i = 0; i < a->n; i++) {
		if (!a->base[i])
			continue;
		char *p = tmp_path(a, a->base[i]);
		unlink(p);	/* those that went into cur/ are no longer there */
		free(p);
		free(a->base[i]);
	}
	free(a->base);
	free(a->dir);
	append_seal_end(a->seal);
	free(a);
	s->append = NULL;
}

/* The command so far (ending in a literal announcement), parsed. */
static enum append_parsed parse_so_far(struct session *s, struct append_cmd *c)
{
	struct ip ip;
	ip_init(&ip, (const char *)evbuffer_pullup(s->cr.cmd, -1), evbuffer_get_length(s->cr.cmd));
	ip.utf8 = s_utf8_names(s);	/* the folder name as handle_command will read it */
	char *tag = ip_tag(&ip), *cmd = NULL;
	bool append = tag && ip_sp(&ip) && (cmd = ip_atom(&ip)) && !strcasecmp(cmd, "APPEND");
	free(tag);
	free(cmd);
	if (!append) {
		memset(c, 0, sizeof *c);
		return AP_OTHER;	/* a literal of some other command */
	}
	return append_parse(&ip, true, c);
}

/* Are this APPEND's messages sealed to the user's key? Asked once, before
 * the first spool file; the NO to give when the key cannot be used. */
static const char *seal_check(struct session *s, struct append_state *a)
{
	const char *why = NULL;
	if (!a->seal_known)
		a->seal = append_seal_begin(s->user, &why);
	a->seal_known = true;
	return why;
}

/* May data literal number a->nspool (n octets, of c's last message) come? */
static const char *literal_refusal(struct session *s, struct append_state *a,
				   const struct append_cmd *c, uint64_t n)
{
	if (!a->dir) {
		if (!ms_exists(c->name))
			return "[TRYCREATE] No such mailbox";
		a->dir = folder_dir(c->name);
	}
	const struct append_msg *m = &c->m[c->n - 1];
	uint64_t msg = n;
	for (size_t k = 0; k + 1 < m->nparts; k++)
		msg += m->parts[k].len;
	if (!a->dir || c->nspool != a->nspool + 1)
		return "[SERVERBUG] Cannot store message";
	if (msg > s->lim.message_max || a->bytes + n > APPEND_MAX_TOTAL)
		return "[TOOBIG] Message too large";
	if (quota_exceeded(s, a->bytes + n))
		return "[OVERQUOTA] Mailbox is over its quota";
	return seal_check(s, a);
}

/* A spool file for the literal in the folder's tmp/ (its name recorded). */
static void open_spool(struct session *s, struct append_state *a)
{
	char *base = mi_unique_name();
	a->fd = append_spool_create(a->seal, a->dir, base);
	if (a->fd < 0) {
		log_err("user=%s: cannot create a file in %s/tmp: %m", s->user, a->dir);
		a->err = "[SERVERBUG] Cannot store message";
		free(base);
		base = NULL;
	}
	add_file(a, base);
}

/* A synchronising literal refused before the client sends it: the whole
 * command ends here. */
static void refuse_now(struct session *s, const char *tag, const char *kind, const char *why)
{
	evbuffer_add_printf(s_buf(s), "%s %s %s\r\n", tag, kind, why);
	if (!strcmp(kind, "BAD"))
		s->bad_commands++;
	cr_drop(&s->cr);
	append_discard(s);
}

void append_literal(struct session *s, const char *tag)
{
	bool sync = s->cr.lit_sync;
	uint64_t n = s->cr.literal_left;
	struct append_state *a = state(s);
	literal_done(s, a);
	struct append_cmd c;
	enum append_parsed r = parse_so_far(s, &c);
	const char *no = NULL, *bad = NULL;
	if (r == AP_OTHER && n <= s->lim.line_max) {
		append_cmd_free(&c);
		cr_inline(&s->cr);	/* a mailbox name or URL */
		if (sync)
			s_out(s, "+ Ready for literal data");
		return;
	}
	const struct append_msg *last = r == AP_DATA && c.n ? &c.m[c.n - 1] : NULL;
	bool binary = last && last->nparts && last->parts[last->nparts - 1].binary;
	if (r == AP_OTHER)
		no = "[TOOBIG] Literal too large";
	else if (r == AP_SYNTAX || (c.utf8 && !s->utf8))
		bad = "Syntax: APPEND mailbox 1*([(flags)] [\"date-time\"] ({literal} / CATENATE (parts)))";
	else if (r == AP_LIMIT)
		no = "[LIMIT] Too many messages or parts";
	else if (a->err)
		no = a->err;	/* an earlier literal was refused */
	else
		no = literal_refusal(s, a, &c, n);
	append_cmd_free(&c);
	if ((no || bad) && sync) {
		refuse_now(s, tag, bad ? "BAD" : "NO", bad ? bad : no);
		return;
	}
	if (no)
		a->err = no;
	a->nspool++;
	if (!a->err && !bad) {
		a->bytes += n;
		open_spool(s, a);
	} else {
		add_file(a, NULL);	/* read and dropped */
	}
	if (binary)
		cr_spool_raw(&s->cr, a->fd);
	else
		cr_spool(&s->cr, a->fd);
	if (sync)
		s_out(s, "+ Ready for literal data");
}

/* ---- composing a CATENATE message ---- */

/* Writes a message file from parts given in CRLF (or already LF) form:
 * CRLF -> LF, also where one part ends in CR and the next begins with LF;
 * size counts the octets in CRLF form. */
struct lfw {
	int fd;
	bool cr, err;
	uint64_t size, max;
	size_t n;
	char buf[16384];
};

static void lfw_flush(struct lfw *w)
{
	if (w->n && !w->err && write_all(w->fd, w->buf, w->n) < 0)
		w->err = true;
	w->n = 0;
}

static void lfw_emit(struct lfw *w, char c)
{
	w->buf[w->n++] = c;
	w->size += c == '\n' ? 2 : 1;
	if (w->n == sizeof w->buf)
		lfw_flush(w);
}

static int lfw_put(void *arg, const char *p, size_t len)
{
	struct lfw *w = arg;
	for (size_t i = 0; i < len; i++) {
		if (w->cr && p[i] != '\n')
			lfw_emit(w, '\r');
		w->cr = p[i] == '\r';
		if (!w->cr)
			lfw_emit(w, p[i]);
	}
	return w->err || w->size > w->max ? -1 : 0;
}

static int lfw_end(struct lfw *w)
{
	if (w->cr)
		lfw_emit(w, '\r');
	w->cr = false;
	lfw_flush(w);
	return w->err || w->size > w->max ? -1 : 0;
}

/* A TEXT part: its spool file into the message. */
static int text_into(struct append_state *a, size_t spool, struct lfw *w)
{
	int fd = append_spool_open(a->seal, a->dir, a->base[spool]);
	if (fd < 0)
		return -1;
	char buf[16384];
	ssize_t n;
	int rc = 0;
	while (rc == 0 && (n = read(fd, buf, sizeof buf)) != 0)
		rc = n < 0 ? -1 : lfw_put(w, buf, (size_t)n);
	close(fd);
	return rc;
}

/* Does message file base have an octet over 0x7f in its header fields?
 * RFC 6855 4: a server offering UTF8=ACCEPT refuses those from a session
 * that did not enable it. Read up to the blank line that ends the header. */
static bool header_8bit(struct append_state *a, const char *base)
{
	int fd = append_spool_open(a->seal, a->dir, base);
	if (fd < 0)
		return false;	/* storing it fails later, with its own NO */
	unsigned char buf[16384];
	bool line_start = true;
	int verdict = -1;	/* -1: still in the header */
	ssize_t n;
	while (verdict < 0 && (n = read(fd, buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; i < n && verdict < 0; i++) {
			if (buf[i] >= 0x80)
				verdict = 1;
			else if (buf[i] == '\n')
				verdict = line_start ? 0 : -1, line_start = true;
			else if (buf[i] != '\r')
				line_start = false;
		}
	}
	close(fd);
	return verdict == 1;
}

/* A message sent as literal8: its spool file holds the octets as sent; its
 * binary parts go into the message base64-encoded (mime_binary.h). */
static int binary_into(struct append_state *a, size_t spool, struct lfw *w)
{
	int fd = append_spool_open(a->seal, a->dir, a->base[spool]);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || st.st_size == 0) {
		if (fd >= 0)
			close(fd);
		return fd < 0 ? -1 : 0;
	}
	void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return -1;
	int rc = mime_binary_encode(map, (size_t)st.st_size, lfw_put, w);
	munmap(map, (size_t)st.st_size);
	return rc;
}

static struct mi *session_open(void *arg, const char *dir)
{
	return open_folder(arg, dir);
}

/* Who may read what url names: 0 this session (its own user's URL; one
 * with a URLAUTH verifier needs a valid one granting this user access),
 * 1 the mail role (an authorised URL of another user), -1 nobody. */
static int url_reader(struct session *s, const struct imap_url *u, const char *url, const char **why)
{
	char *owner = imap_url_owner(u);
	bool own = !owner || !strcasecmp(owner, s->user);
	free(owner);
	if (!u->mech) {
		*why = own ? "Incomplete URLAUTH" : "URL of another user";
		return own && !u->access ? 0 : -1;
	}
	if (!own)
		return 1;
	struct urlauth_who who = { s->user, false };
	char *dir = url_folder_dir(u);
	bool ok = dir && urlauth_allows(u, &who, why) && urlauth_valid(u, url, dir, why);
	free(dir);
	return ok ? 0 : -1;
}

/* A URL part: the octets it names into the message. -1 with *why (a bad
 * URL) or -2 (the message grew too big or could not be written). */
static int url_into(struct session *s, const char *url, struct lfw *w, const char **why)
{
	struct imap_url u;
	struct url_data d;
	struct urlfetch_reply r;
	*why = "Bad URL";
	if (imap_url_parse(url, &u) < 0)
		return -1;
	int rc = -1, who = url_reader(s, &u, url, why);
	if (who == 0 && url_part_open(&u, session_open, s, &d, why) == 0) {
		rc = url_part_crlf(&d, lfw_put, w) < 0 ? -2 : 0;
		url_part_close(&d);
	} else if (who == 1 && urlauth_remote(url, URLF_DATA, &r) == 0) {
		rc = urlfetch_read(&r, lfw_put, w) < 0 ? -2 : 0;
	} else if (who == 1) {
		*why = "No such URL for this user";
	}
	if (who == 1)
		urlfetch_reply_free(&r);
	imap_url_free(&u);
	return rc;
}

/* Compose message m into a new file of the folder's tmp/: its name (*size
 * its octets), or NULL with the NO to give in *no. */
static const char *compose(struct session *s, struct append_state *a, const struct append_msg *m,
			   uint64_t *size, char **no)
{
	char *base = mi_unique_name();
	struct lfw *w = xcalloc(1, sizeof *w);
	int fd = w->fd = append_spool_create(a->seal, a->dir, base);
	w->max = s->lim.message_max;
	if (fd < 0) {
		free(base);
		base = NULL;
	}
	add_file(a, base);
	int rc = fd < 0 ? -2 : 0;
	for (size_t k = 0; k < m->nparts && rc == 0; k++) {
		const struct append_part *p = &m->parts[k];
		const char *why = NULL;
		if (p->url)
			rc = url_into(s, p->url, w, &why);
		else if (p->len && p->binary && !m->catenate)
			rc = binary_into(a, p->spool, w) < 0 ? -2 : 0;
		else if (p->len)
			rc = text_into(a, p->spool, w) < 0 ? -2 : 0;
		if (rc == -1)
			*no = xasprintf("[BADURL %s] %s", p->url, why);
	}
	if (rc == 0 && lfw_end(w) < 0)
		rc = -2;
	if (rc == -2)
		*no = xstrdup(w->size > w->max ? "[TOOBIG] Composed message too large"
						: "[SERVERBUG] Cannot store message");
	*size = w->size;
	if (fd >= 0)
		close(fd);
	free(w);
	return rc == 0 ? base : NULL;
}

/* ---- storing ---- */

/* Every message into the index, or none: those added before a failure are
 * taken out again. */
static int store_all(struct session *s, struct append_state *a, const struct append_cmd *c,
		     const char **files, uint32_t *uids, uint32_t *uv)
{
	struct mi *mi = open_folder(s, a->dir);
	if (!mi)
		return -1;
	size_t i;
	for (i = 0; i < c->n; i++)
		if (mi_add_tmp(mi, files[i], c->m[i].flags, c->m[i].kw, c->m[i].idate, &uids[i]) < 0)
			break;
	if (i < c->n)
		for (size_t k = 0; k < i; k++)
			mi_expunge(mi, uids[k]);
	*uv = mi_header(mi)->uidvalidity;
	mi_close(mi);
	return i < c->n ? -1 : 0;
}

static void append_store(struct session *s, struct append_state *a, const struct append_cmd *c)
{
	const char **files = xcalloc(c->n, sizeof *files);
	uint32_t *uids = xcalloc(c->n, sizeof *uids), uv = 0;
	char *no = NULL;
	uint64_t total = 0, size = 0;
	for (size_t i = 0; i < c->n && !no; i++) {
		const struct append_msg *m = &c->m[i];
		if (!m->catenate && m->parts[0].len && !m->parts[0].binary)
			files[i] = a->base[m->parts[0].spool], size = m->parts[0].len;
		else
			files[i] = compose(s, a, m, &size, &no);
		total += size;
	}
	for (size_t i = 0; i < c->n && !no && !s_utf8_names(s); i++)
		if (header_8bit(a, files[i]))
			no = xstrdup("8-bit header fields need ENABLE UTF8=ACCEPT (RFC 6855 4)");
	if (!no && quota_exceeded(s, total))
		no = xstrdup("[OVERQUOTA] Mailbox is over its quota");
	for (size_t i = 0; i < c->n && !no; i++)
		if (append_spool_seal(a->seal, a->dir, files[i]) < 0)
			no = xstrdup("[SERVERBUG] Cannot store message");
	if (no) {
		s_no(s, "%s", no);
	} else if (store_all(s, a, c, files, uids, &uv) < 0) {
		log_err("user=%s: append to %s failed", s->user, c->name);
		s_no(s, "[SERVERBUG] Cannot store message");
	} else {
		if (s->sel && !strcmp(s->sel->name, c->name))
			mi_close(view_sync(s, !s->in_fetch_like));
		struct evbuffer *set = evbuffer_new();
		s_uid_set(set, uids, c->n);
		evbuffer_add(set, "", 1);
		s_ok(s, "[APPENDUID %u %s] APPEND completed", uv, (const char *)evbuffer_pullup(set, -1));
		evbuffer_free(set);
	}
	free(no);
	free(files);
	free(uids);
}

void cmd_append(struct session *s, struct ip *ip, bool uid)
{
	struct append_state *a = state(s);
	literal_done(s, a);
	struct append_cmd c;
	const char *why;
	enum append_parsed r = append_parse(ip, false, &c);
	if (a->err)
		s_no(s, "%s", a->err);
	else if (r == AP_SYNTAX || (c.utf8 && !s->utf8))	/* UTF8 data needs ENABLE UTF8=ACCEPT */
		s_bad(s, "Syntax: APPEND mailbox 1*([(flags)] [\"date-time\"] ({literal} / CATENATE (parts)))");
	else if (r == AP_LIMIT)
		s_no(s, "[LIMIT] Too many messages or parts");
	else if (!ms_exists(c.name))
		s_no(s, "[TRYCREATE] No such mailbox");
	else if (c.nspool != a->nspool)
		s_bad(s, "Literals do not match the command");
	else if ((why = seal_check(s, a)) != NULL)
		s_no(s, "%s", why);
	else {
		if (!a->dir)
			a->dir = folder_dir(c.name);
		append_store(s, a, &c);
	}
	append_cmd_free(&c);
	append_discard(s);
}
