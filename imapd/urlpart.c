/* urlpart.c — from an IMAP URL to the octets it names. */
#include "imapd/urlpart.h"
#include "imapd/commands.h"
#include "common/mailindex.h"
#include "common/mailstore.h"
#include "common/mime.h"
#include "common/mime_binconv.h"
#include "common/mime_stream.h"
#include "common/urlfetch.h"
#include "common/util.h"

#include <event2/buffer.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define URL_MSG_READ_MAX (1024ULL * 1024 * 1024)

void url_part_close(struct url_data *d)
{
	if (d->m)
		mime_stream_free(d->m);
	if (d->text)
		evbuffer_free(d->text);
	if (d->fd >= 0)
		close(d->fd);
	memset(d, 0, sizeof *d);
	d->fd = -1;
}

char *url_folder_dir(const struct imap_url *u)
{
	char *stored = ms_is_inbox(u->mailbox) ? xstrdup("INBOX") : mbox_from_utf8(u->mailbox);
	char *dir = stored && ms_valid_name(stored) && ms_exists(stored) ? folder_dir(stored) : NULL;
	free(stored);
	return dir;
}

/* The message file of the URL's UID, opened while the index is locked (a
 * flag change renames it). */
static int open_message(const struct imap_url *u, url_open_fn open_fn, void *arg,
			struct url_data *d, const char **why)
{
	char *dir = url_folder_dir(u);
	struct mi *mi = dir ? open_fn(arg, dir) : NULL;
	free(dir);
	if (!mi) {
		*why = "No such mailbox";
		return -1;
	}
	struct mi_rec rec;
	int r = -1;
	if (u->uidvalidity && mi_header(mi)->uidvalidity != u->uidvalidity) {
		*why = "UIDVALIDITY does not match";
	} else if (mi_get(mi, u->uid, &rec) != 1) {
		*why = "No such message";
	} else {
		char *path = mi_path(mi, &rec);
		d->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		d->msg_size = rec.size;
		free(path);
		mi_rec_clear(&rec);
		*why = "Message vanished";
		r = d->fd >= 0 ? 0 : -1;
	}
	mi_close(mi);
	return r;
}

/* A part number path ("1.2") names a MIME part BINARY can take. */
static bool part_number(const char *s)
{
	return *s && strspn(s, "0123456789.") == strlen(s);
}

static int section(const struct imap_url *u, struct url_data *d, const char **why)
{
	*why = "Bad section";
	if (!(d->m = mime_parse_fd(d->fd, URL_MSG_READ_MAX, NULL)))
		return -1;
	struct mime_section sec;
	if (mime_section(d->m, u->section, &sec) < 0)
		return -1;
	if (part_number(u->section))
		d->part = mime_find_part(d->m, u->section);
	if (sec.kind == MIME_SEC_RANGE) {
		d->off = sec.off;
		d->len = sec.len;
	} else {
		d->text = evbuffer_new();
		mime_filter_section(d->m, d->fd, &sec, d->text);
		d->len = evbuffer_get_length(d->text);
	}
	mime_section_free(&sec);
	return 0;
}

int url_part_open(const struct imap_url *u, url_open_fn open_fn, void *arg, struct url_data *d,
		  const char **why)
{
	memset(d, 0, sizeof *d);
	d->fd = -1;
	if (open_message(u, open_fn, arg, d, why) < 0)
		return -1;
	d->len = d->msg_size;
	if (u->section && section(u, d, why) < 0) {
		url_part_close(d);
		return -1;
	}
	if (u->partial) {
		uint64_t st = u->pstart < d->len ? u->pstart : d->len;
		uint64_t left = d->len - st;
		d->off += st;
		d->len = u->plen && u->plen < left ? u->plen : left;
		if (d->text)
			evbuffer_drain(d->text, (size_t)st);
	}
	return 0;
}

int url_part_crlf(const struct url_data *d, int (*sink)(void *arg, const char *p, size_t n), void *arg)
{
	if (d->text) {
		size_t n = (size_t)d->len;
		return n ? sink(arg, (const char *)evbuffer_pullup(d->text, (ev_ssize_t)n), n) : 0;
	}
	struct crlf_reader *rd = xmalloc(sizeof *rd);
	crlf_reader_init(rd, d->fd, d->off, d->len);
	char buf[16384];
	ssize_t n = 0;
	int rc = 0;
	while (rc == 0 && (n = crlf_read(rd, buf, sizeof buf)) > 0)
		rc = sink(arg, buf, (size_t)n);
	if (n < 0)
		rc = -1;
	free(rd);
	return rc;
}

/* ---- what URLFETCH returns ---- */

/* The MIME part BINARY and BODYPARTSTRUCTURE speak of: the section's, or
 * the message's own when the URL names the whole message. */
static const struct mime_part *url_mime_part(struct url_data *d)
{
	if (!d->m && !d->text && (d->m = mime_parse_fd(d->fd, URL_MSG_READ_MAX, NULL)))
		d->part = d->m->root;
	return d->part;
}

struct counter {
	uint64_t size;
	bool nul;
};

static int count(void *arg, const char *p, size_t n)
{
	struct counter *c = arg;
	c->size += n;
	c->nul = c->nul || memchr(p, '\0', n) != NULL;
	return 0;
}

static int to_evbuffer(void *arg, const char *p, size_t n)
{
	return evbuffer_add(arg, p, n);
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

/* BODYPARTSTRUCTURE of the part as BINARY gives it: its own header (none
 * for the whole message) on top of the converted octets, parsed again. */
static void binary_structure(struct url_data *d, const struct mime_part *p, struct evbuffer *b)
{
	struct evbuffer *img = evbuffer_new();
	char *owned = NULL;
	const char *h = p != d->m->root ? mime_stream_text(d->m, d->fd, p->hdr_off, p->hdr_len, &owned)
					: NULL;
	if (h)
		evbuffer_add(img, h, p->hdr_len);
	free(owned);
	mime_binary_convert(d->m, d->fd, p, to_evbuffer, img);
	size_t len = evbuffer_get_length(img);
	struct mime_msg *t = mime_parse((const char *)evbuffer_pullup(img, -1), len);
	keep_encodings(p, t->root, 0);
	mime_bodystructure(t, t->root, true, b);
	mime_free(t);
	evbuffer_free(img);
}

static char *structure(struct url_data *d, bool binary)
{
	const struct mime_part *p = url_mime_part(d);
	if (!p)
		return xstrdup("NIL");
	struct evbuffer *b = evbuffer_new();
	if (binary)
		binary_structure(d, p, b);
	else
		mime_bodystructure(d->m, p, true, b);
	evbuffer_add(b, "", 1);
	char *r = xstrdup((const char *)evbuffer_pullup(b, -1));
	evbuffer_free(b);
	return r;
}

int url_part_describe(struct url_data *d, unsigned flags, struct url_out *o)
{
	memset(o, 0, sizeof *o);
	bool binary = flags & URLF_BINARY;
	if (binary) {
		const struct mime_part *p = url_mime_part(d);
		struct counter c = { 0, false };
		if (!p || d->text || mime_binary_convert(d->m, d->fd, p, count, &c) < 0)
			return -1;
		o->size = c.size;
		o->nul = c.nul;
	} else {
		o->size = d->len;
	}
	if (flags & URLF_BPS)
		o->bps = structure(d, binary);
	return 0;
}

int url_part_write(struct url_data *d, unsigned flags, int (*sink)(void *arg, const char *p, size_t n),
		   void *arg)
{
	if (flags & URLF_BINARY) {
		const struct mime_part *p = url_mime_part(d);
		return p ? mime_binary_convert(d->m, d->fd, p, sink, arg) : -1;
	}
	return url_part_crlf(d, sink, arg);
}

void url_out_free(struct url_out *o)
{
	free(o->bps);
	o->bps = NULL;
}
