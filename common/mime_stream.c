/* mime_stream.c — the MIME tree of a message file read line by line (the
 * semantics of mime.c's parser, kept in step with it by the differential unit
 * test), reading CRLF ranges of a file, and chunked transfer decoding. */
#include "common/mime_stream.h"
#include "common/util.h"

#include <ctype.h>
#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_FRAMES (MIME_MAX_DEPTH + 4)

/* A mime_msg with the size of its sparse image (m must stay first). */
struct smsg {
	struct mime_msg m;
	size_t maplen;
	bool mapped;		/* image from mmap, else from malloc (zero_to) */
};

/* Images up to this size come from the heap: for the small messages that
 * make up most folders, an mmap/munmap pair and its page faults per message
 * cost more than zeroing a few kB (a first open indexes every message). A
 * heap image is zeroed as the parse goes, only up to the CRLF length it
 * finds (zero_to), not the whole allocation (twice the file's size). */
#define MSTREAM_HEAP_IMG	(64 * 1024)

/* One open part: the chain root .. innermost current part. */
struct frame {
	struct mime_part *p;
	int depth;
	bool in_header;
	bool digest;		/* children default to message/rfc822 */
	uint64_t lf_body;	/* LFs before body_off */
	uint64_t stored;	/* end of the header octets written to the image */
	bool field_kept;	/* the header field being read is one mime_field_kept names */
	bool field_cut;		/* and MSTREAM_HDR_MAX cut it */
	char *bd;		/* multipart boundary, NULL: body not scanned */
	size_t blen;
	bool closed;		/* after the close delimiter */
	bool in_part;		/* a child range is open (after a delimiter) */
	uint64_t part_start;
	struct mime_part **tail;
};

struct sparser {
	struct smsg *w;
	char *img;
	uint64_t imglen, stored;
	uint64_t zeroed;	/* a heap image's octets [0, zeroed) are written or zeroed */
	struct frame st[MAX_FRAMES];
	int top;
	uint64_t pos;		/* CRLF offset of the current line */
	uint64_t lfs;		/* LFs before pos */
	bool prev_empty;	/* the line before pos was empty */
	bool last_lf, prev_cr;
};

static void push(struct sparser *s, struct mime_part *p, int depth, bool digest)
{
	if (s->top + 1 >= MAX_FRAMES)
		return;	/* cannot happen: depth is bounded by MIME_MAX_DEPTH */
	struct frame *f = &s->st[++s->top];
	memset(f, 0, sizeof *f);
	f->p = p;
	f->depth = depth;
	f->digest = digest;
	f->in_header = true;
	p->hdr_off = p->body_off = s->pos;
}

/* A heap image as calloc would have left it up to end (the mapped one is
 * zero already): the gaps between the header octets written, and whatever
 * readers of m->buf find of the bodies, read zeros. */
static void zero_to(struct sparser *s, uint64_t end)
{
	if (end > s->imglen)
		end = s->imglen;
	if (s->w->mapped || end <= s->zeroed)
		return;
	memset(s->img + s->zeroed, 0, (size_t)(end - s->zeroed));
	s->zeroed = end;
}

/* The header is kept whole for its first MIME_MAX_HEADER octets; past them
 * only the fields mime_field_kept names (every line of each), at their own
 * offsets with gaps of NULs between, so a long header cannot push its From or
 * its Content-Type out of ENVELOPE, SEARCH and the tree, and memory stays
 * bounded by MSTREAM_HDR_MAX. cont: a further piece of a long line. */
static void store_header(struct sparser *s, struct frame *f, const char *raw, size_t n, bool bare_lf,
			 bool cont)
{
	uint64_t want = n + bare_lf, at = s->pos - f->p->hdr_off;
	if (!cont && (!n || (raw[0] != ' ' && raw[0] != '\t'))) {
		f->field_kept = mime_field_kept(raw, n);
		f->field_cut = false;
	}
	if (f->field_cut || (at >= MIME_MAX_HEADER && !f->field_kept))
		return;
	if (s->stored + want > MSTREAM_HDR_MAX || s->pos + want > s->imglen) {
		f->field_cut = true;	/* not the rest of a field cut here either */
		return;
	}
	zero_to(s, s->pos);
	char *o = s->img + s->pos;
	s->zeroed = s->pos + want;
	if (bare_lf) {
		memcpy(o, raw, n - 1);
		o[n - 1] = '\r';
		o[n] = '\n';
	} else {
		memcpy(o, raw, n);
	}
	s->stored += want;
	f->stored = at + want;
}

static size_t parsed_header(const struct frame *f)
{
	return f->p->hdr_len < f->stored ? f->p->hdr_len : f->stored;
}

static bool can_nest(struct sparser *s, const struct frame *f)
{
	return f->depth < MIME_MAX_DEPTH && s->w->m.nparts < MIME_MAX_PARTS;
}

/* The header of the top part ended (an empty line, or the part's end): its
 * fields decide what its body is. open_msg: a message/rfc822 body starts a
 * nested part now (false when the part ends here: the nested one is empty). */
static void header_done(struct sparser *s, struct frame *f, bool open_msg)
{
	struct mime_part *p = f->p;
	f->in_header = false;
	mime_part_fields(p, s->img + p->hdr_off, parsed_header(f), f->digest);
	bool nest = can_nest(s, f);
	if (!strcasecmp(p->type, "multipart")) {
		p->multipart = true;
		const char *bd = NULL;
		for (size_t i = 0; i < p->nparams && nest; i++)
			if (!strcasecmp(p->params[i].name, "boundary"))
				bd = bd ? bd : p->params[i].value;
		if (bd && *bd && strlen(bd) <= 200) {
			f->bd = xstrdup(bd);
			f->blen = strlen(bd);
		}
		f->tail = &p->children;
	} else if (!strcasecmp(p->type, "message") && !strcasecmp(p->subtype, "rfc822") && nest) {
		p->msg = xcalloc(1, sizeof *p->msg);
		s->w->m.nparts++;
		if (open_msg) {
			push(s, p->msg, f->depth + 1, false);
		} else {
			p->msg->hdr_off = p->msg->body_off = p->body_off;
			mime_part_fields(p->msg, "", 0, false);
		}
	}
}

/* Finish frame f's part at CRLF offset pe (lfs: LFs before pe; last_lf: the
 * octet before pe is LF). */
static void finish(struct sparser *s, struct frame *f, uint64_t pe, uint64_t lfs, bool last_lf)
{
	struct mime_part *p = f->p;
	if (pe < p->hdr_off)
		p->hdr_off = pe;	/* it began after its range ended: empty */
	if (f->in_header || pe < p->body_off) {
		p->hdr_len = pe - p->hdr_off;
		p->body_off = pe;
		p->body_len = p->body_lines = 0;
		if (f->in_header)
			header_done(s, f, false);
	} else {
		p->body_len = pe - p->body_off;
		p->body_lines = lfs - f->lf_body;	/* lines ended by a line break (mime.c) */
	}
	if (p->multipart && !p->children)
		mime_empty_child(p);
	free(f->bd);
	f->bd = NULL;
}

/* A part dropped before anything was attached to it. */
static void free_part_tree(struct mime_part *p)
{
	struct mime_msg *m = xcalloc(1, sizeof *m);
	m->root = p;
	mime_free(m);
}

/* Close every frame above k at pe; by_delim: frame k's own delimiter ends its
 * child (which is kept even when empty, as mime.c keeps it). */
static void close_above(struct sparser *s, int k, uint64_t pe, uint64_t lfs, bool last_lf,
			bool by_delim)
{
	while (s->top > k) {
		struct frame *f = &s->st[s->top], *parent = s->top ? &s->st[s->top - 1] : NULL;
		bool child = parent && parent->p->multipart && parent->tail;
		bool terminated = by_delim && s->top - 1 == k;
		if (child && !terminated && f->p->hdr_off >= pe) {
			/* mime.c makes no part of an empty unterminated tail. This one
			 * began where its range ends: at most it read the empty line
			 * cut off before the delimiter, which in a digest opened an
			 * (empty) message part too */
			s->w->m.nparts -= 1 + (f->p->msg != NULL);
			free(f->bd);
			free_part_tree(f->p);
			s->top--;
			continue;
		}
		finish(s, f, pe, lfs, last_lf);
		if (child) {
			*parent->tail = f->p;
			parent->tail = &f->p->next;
			parent->p->nchildren++;
		}
		s->top--;
	}
}

/* A boundary delimiter line of f ("--b", optionally "--", then padding)? */
static bool is_delim(const struct frame *f, const char *c, size_t n, bool *close)
{
	if (n < f->blen + 2 || c[0] != '-' || c[1] != '-' || memcmp(c + 2, f->bd, f->blen))
		return false;
	size_t j = f->blen + 2;
	*close = n - j >= 2 && c[j] == '-' && c[j + 1] == '-';
	if (*close)
		j += 2;
	while (j < n && (c[j] == ' ' || c[j] == '\t'))
		j++;
	return j == n || c[j] == '\r';
}

/* The delimiter of frame k at pos: close its open child, open the next. */
static void delimiter(struct sparser *s, int k, bool close, uint64_t crlf_n)
{
	struct frame *f = &s->st[k];
	if (f->in_part) {
		uint64_t pe = s->pos >= f->part_start + 2 ? s->pos - 2 : f->part_start;
		uint64_t lfs = pe == s->pos ? s->lfs : s->lfs - 1;
		close_above(s, k, pe, lfs, pe == s->pos || s->prev_empty, true);
	}
	f->in_part = !close;
	f->closed = close;
	f->part_start = s->pos + crlf_n;
	if (close || s->w->m.nparts >= MIME_MAX_PARTS)
		return;
	struct mime_part *c = xcalloc(1, sizeof *c);
	s->w->m.nparts++;
	uint64_t save = s->pos;
	s->pos += crlf_n;	/* the child begins on the next line */
	push(s, c, f->depth + 1, !strcasecmp(f->p->subtype, "digest"));
	s->pos = save;
}

/* One line, or one piece of a line longer than MSTREAM_LINE (cont: not the
 * first piece; more: not the last). */
static void segment(struct sparser *s, const char *raw, size_t n, bool cont, bool more)
{
	bool has_lf = n && raw[n - 1] == '\n';
	bool cr_before = n >= 2 ? raw[n - 2] == '\r' : s->prev_cr;
	bool bare_lf = has_lf && !cr_before;
	uint64_t crlf_n = n + bare_lf;
	bool whole = !cont && !more;
	size_t clen = n - (has_lf ? 1 : 0) - (has_lf && n >= 2 && raw[n - 2] == '\r' ? 1 : 0);
	bool handled = false;
	if (whole) {
		for (int k = 0; k <= s->top && !handled; k++) {
			struct frame *f = &s->st[k];
			bool close;
			if (f->bd && !f->closed && !f->in_header && is_delim(f, raw, clen, &close)) {
				delimiter(s, k, close, crlf_n);
				handled = true;
			}
		}
	}
	struct frame *f = &s->st[s->top];
	if (!handled && f->in_header) {
		store_header(s, f, raw, n, bare_lf, cont);
		if (whole && clen == 0) {
			f->p->hdr_len = s->pos + crlf_n - f->p->hdr_off;
			f->p->body_off = s->pos + crlf_n;
			f->lf_body = s->lfs + 1;
			uint64_t save = s->pos;
			s->pos += crlf_n;	/* a nested message begins on the next line */
			header_done(s, f, true);
			s->pos = save;
		}
	}
	s->lfs += has_lf;
	s->pos += crlf_n;
	s->prev_empty = whole && clen == 0;
	s->last_lf = has_lf;
	s->prev_cr = n && raw[n - 1] == '\r';
}

static int read_lines(struct sparser *s, int fd, uint64_t max)
{
	char *buf = xmalloc(MSTREAM_LINE);
	size_t have = 0;
	uint64_t fpos = 0;
	bool eof = false, cont = false;
	int rc = 0;
	while (!eof || have) {
		if (!eof && have < MSTREAM_LINE) {
			size_t want = MSTREAM_LINE - have;
			if (want > max - fpos)
				want = (size_t)(max - fpos);
			ssize_t r = want ? pread(fd, buf + have, want, (off_t)fpos) : 0;
			if (r < 0) {
				rc = -1;
				break;
			}
			eof = r == 0;
			have += (size_t)r;
			fpos += (uint64_t)r;
		}
		size_t start = 0;
		while (start < have) {
			char *nl = memchr(buf + start, '\n', have - start);
			size_t n;
			bool more = false;
			if (nl)
				n = (size_t)(nl - (buf + start)) + 1;
			else if (eof)
				n = have - start;
			else if (start == 0 && have == MSTREAM_LINE)
				n = have, more = true;	/* a line longer than the buffer */
			else
				break;
			segment(s, buf + start, n, cont, more);
			cont = more;
			start += n;
		}
		memmove(buf, buf + start, have - start);
		have -= start;
	}
	free(buf);
	return rc;
}

struct mime_msg *mime_parse_fd(int fd, uint64_t max, uint64_t *crlf_len)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return NULL;
	return mime_parse_fd_len(fd, (uint64_t)st.st_size, max, crlf_len);
}

struct mime_msg *mime_parse_fd_len(int fd, uint64_t len, uint64_t max, uint64_t *crlf_len)
{
	uint64_t size = len < max ? len : max;
	struct sparser s = { 0 };
	s.w = xcalloc(1, sizeof *s.w);
	s.w->maplen = (size_t)(2 * size + 4096);
	/* the CRLF image: virtual space only, pages appear where headers go */
	s.w->mapped = s.w->maplen > MSTREAM_HEAP_IMG;
	void *img = !s.w->mapped ? xmalloc(s.w->maplen) :
		    mmap(NULL, s.w->maplen, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (img == MAP_FAILED) {
		free(s.w);
		return NULL;
	}
	s.img = img;
	s.imglen = s.w->maplen;
	s.top = -1;
	s.w->m.root = xcalloc(1, sizeof *s.w->m.root);
	s.w->m.nparts = 1;
	push(&s, s.w->m.root, 0, false);
	int r = read_lines(&s, fd, size);
	close_above(&s, -1, s.pos, s.lfs, s.last_lf, false);
	/* and the slack after the message, as a terminator */
	zero_to(&s, s.pos + 4096);
	s.w->m.buf = s.img;
	s.w->m.len = (size_t)s.pos;
	if (crlf_len)
		*crlf_len = s.pos;
	if (r < 0) {
		mime_stream_free(&s.w->m);
		return NULL;
	}
	return &s.w->m;
}

void mime_stream_free(struct mime_msg *m)
{
	if (!m)
		return;
	struct smsg *w = (struct smsg *)m;
	if (w->mapped)
		munmap((void *)m->buf, w->maplen);
	else
		free((void *)m->buf);
	mime_free(m);	/* frees the tree and w itself (m is its first member) */
}

/* ---- CRLF ranges of a file ---- */

void crlf_reader_init(struct crlf_reader *r, int fd, uint64_t start, uint64_t len)
{
	r->fd = fd;
	r->fpos = 0;
	r->cpos = 0;
	r->start = start;
	r->end = start + len;
	r->prev_cr = false;
	r->rpos = r->rlen = 0;
}

ssize_t crlf_read(struct crlf_reader *r, char *out, size_t cap)
{
	size_t o = 0;
	while (r->cpos < r->end && o + 2 <= cap) {
		if (r->rpos == r->rlen) {
			ssize_t n = pread(r->fd, r->raw, sizeof r->raw, r->fpos);
			if (n < 0)
				return -1;
			if (n == 0)
				break;	/* the file is shorter than the range */
			r->fpos += n;
			r->rlen = (size_t)n;
			r->rpos = 0;
		}
		while (r->rpos < r->rlen && r->cpos < r->end && o + 2 <= cap) {
			char c = r->raw[r->rpos++];
			if (c == '\n' && !r->prev_cr) {
				if (r->cpos >= r->start)
					out[o++] = '\r';
				r->cpos++;
			}
			if (r->cpos >= r->start && r->cpos < r->end)
				out[o++] = c;
			r->cpos++;
			r->prev_cr = c == '\r';
		}
	}
	return (ssize_t)o;
}

/* ---- transfer decoding ---- */

bool mstream_dec_init(struct mstream_dec *d, const char *enc)
{
	memset(d, 0, sizeof *d);
	if (!enc || !strcasecmp(enc, "7bit") || !strcasecmp(enc, "8bit") || !strcasecmp(enc, "binary"))
		d->enc = MSTREAM_IDENTITY;
	else if (!strcasecmp(enc, "base64"))
		d->enc = MSTREAM_BASE64;
	else if (!strcasecmp(enc, "quoted-printable"))
		d->enc = MSTREAM_QP;
	else
		return false;
	return true;
}

/* Quoted-printable states: in text; after CR; after "="; after "=" and one
 * hex digit; after "=" and whitespace (transport padding); after "=" CR. */
enum { QP_TEXT, QP_CR, QP_EQ, QP_EQ_HEX, QP_EQ_WS, QP_EQ_CR };

static size_t qp_flush_ws(struct mstream_dec *d, char *out)
{
	memcpy(out, d->ws, d->nws);
	size_t n = d->nws;
	d->nws = 0;
	return n;
}

static size_t qp_hold_ws(struct mstream_dec *d, char c, char *out)
{
	size_t o = d->nws == sizeof d->ws ? qp_flush_ws(d, out) : 0;
	d->ws[d->nws++] = c;
	return o;
}

/* One octet in text: whitespace is held, a line end drops what is held. */
static size_t qp_text(struct mstream_dec *d, char c, char *out)
{
	if (c == ' ' || c == '\t')
		return qp_hold_ws(d, c, out);
	if (c == '\r') {
		d->qp = QP_CR;
		return 0;
	}
	if (c == '\n') {
		d->nws = 0;	/* trailing whitespace */
		out[0] = c;
		return 1;
	}
	size_t o = qp_flush_ws(d, out);
	if (c == '=')
		d->qp = QP_EQ;
	else
		out[o++] = c;
	return o;
}

/* One octet of quoted-printable. */
static size_t qp_octet(struct mstream_dec *d, char c, char *out)
{
	size_t o = 0;
	int h = mime_hex_value((unsigned char)c);
	switch (d->qp) {
	case QP_TEXT:
		return qp_text(d, c, out);
	case QP_CR:
		d->qp = QP_TEXT;
		if (c == '\n') {
			d->nws = 0;
			memcpy(out, "\r\n", 2);
			return 2;
		}
		o = qp_flush_ws(d, out);
		out[o++] = '\r';
		return o + qp_text(d, c, out + o);
	case QP_EQ:
		if (h >= 0) {
			d->hex = c;
			d->qp = QP_EQ_HEX;
			return 0;
		}
		if (c == ' ' || c == '\t') {
			d->qp = QP_EQ_WS;
			return qp_hold_ws(d, c, out);
		}
		d->qp = c == '\r' ? QP_EQ_CR : QP_TEXT;
		if (c == '\r' || c == '\n')
			return 0;	/* "=" LF: soft line break */
		out[o++] = '=';
		return o + qp_text(d, c, out + o);
	case QP_EQ_HEX:
		d->qp = QP_TEXT;
		if (h >= 0) {
			out[0] = (char)(mime_hex_value((unsigned char)d->hex) * 16 + h);
			return 1;
		}
		out[o++] = '=';
		out[o++] = d->hex;
		return o + qp_text(d, c, out + o);
	case QP_EQ_WS:
		if ((c == ' ' || c == '\t') && d->nws < sizeof d->ws) {
			d->ws[d->nws++] = c;
			return 0;
		}
		if (c == '\r' || c == '\n') {
			d->nws = 0;
			d->qp = c == '\r' ? QP_EQ_CR : QP_TEXT;
			return 0;
		}
		d->qp = QP_TEXT;	/* "=" and whitespace inside a line: as written */
		out[o++] = '=';
		o += qp_flush_ws(d, out + o);
		return o + qp_text(d, c, out + o);
	default:	/* QP_EQ_CR: a soft line break whatever follows */
		d->qp = QP_TEXT;
		return c == '\n' ? 0 : qp_text(d, c, out);
	}
}

/* End of input: what is held. Trailing whitespace and a final soft break
 * vanish; a lone "=" or "=X" stays as written. */
static size_t qp_final(struct mstream_dec *d, char *out)
{
	size_t o = 0;
	if (d->qp == QP_CR) {
		o = qp_flush_ws(d, out);
		out[o++] = '\r';
	} else if (d->qp == QP_EQ || d->qp == QP_EQ_HEX) {
		out[o++] = '=';
		if (d->qp == QP_EQ_HEX)
			out[o++] = d->hex;
	}
	d->nws = 0;
	d->qp = QP_TEXT;
	return o;
}

size_t mstream_dec_run(struct mstream_dec *d, const char *in, size_t n, bool final, char *out)
{
	size_t o = 0;
	if (d->enc == MSTREAM_IDENTITY) {
		memcpy(out, in, n);
		return n;
	}
	for (size_t i = 0; i < n; i++) {
		if (d->enc == MSTREAM_QP) {
			o += qp_octet(d, in[i], out + o);
			continue;
		}
		int v = mime_b64_value((unsigned char)in[i]);
		if (v < 0)
			continue;	/* whitespace, '=' and junk */
		d->acc = (d->acc << 6) | (unsigned)v;
		d->bits += 6;
		if (d->bits >= 8) {
			d->bits -= 8;
			out[o++] = (char)((d->acc >> d->bits) & 0xff);
		}
	}
	if (final && d->enc == MSTREAM_QP)
		o += qp_final(d, out + o);
	return o;
}

const char *mime_stream_text(const struct mime_msg *m, int fd, uint64_t off, uint64_t len,
			     char **owned)
{
	*owned = NULL;
	if (off <= m->len && len <= m->len - off && !memchr(m->buf + off, 0, len))
		return m->buf + off;
	/* past what the image keeps: the header is bounded by the message */
	char *buf = xmalloc(len + 1);
	struct crlf_reader *rd = xmalloc(sizeof *rd);
	crlf_reader_init(rd, fd, off, len);
	uint64_t got = 0;
	ssize_t k;
	while (got < len && (k = crlf_read(rd, buf + got, len - got < 2 ? 2 : len - got)) > 0)
		got += (uint64_t)k;
	free(rd);
	if (got != len) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	*owned = buf;
	return buf;
}

void mime_filter_section(const struct mime_msg *m, int fd, const struct mime_section *sec,
			 struct evbuffer *out)
{
	if (!sec->len) {
		evbuffer_add(out, "\r\n", 2);
		return;
	}
	char *owned;
	const char *h = mime_stream_text(m, fd, sec->off, sec->len, &owned);
	if (h)
		mime_header_filter(h, sec->len, sec->fields, sec->nfields,
				   sec->kind == MIME_SEC_FIELDS_NOT, out);
	free(owned);
}
