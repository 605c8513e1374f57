/* fetch_stream.c — queued FETCH output: text, and literals read from files. */
#include "imapd/fetch_stream.h"
#include "common/log.h"
#include "common/util.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct seg {
	struct seg *next;
	struct evbuffer *text;	/* NULL: a file literal */
	int fd;
	bool decode, flushed, eof;
	struct mstream_dec dec;
	uint64_t skip, left;	/* octets to drop, then to send */
	struct crlf_reader rd;
};

struct fstream {
	struct seg *head, *tail;
};

struct fstream *fs_new(void)
{
	return xcalloc(1, sizeof(struct fstream));
}

static void seg_free(struct seg *g)
{
	if (g->text)
		evbuffer_free(g->text);
	else
		close(g->fd);
	free(g);
}

void fs_free(struct fstream *f)
{
	if (!f)
		return;
	while (f->head) {
		struct seg *g = f->head;
		f->head = g->next;
		seg_free(g);
	}
	free(f);
}

static void append(struct fstream *f, struct seg *g)
{
	if (f->tail)
		f->tail->next = g;
	else
		f->head = g;
	f->tail = g;
}

struct evbuffer *fs_text(struct fstream *f)
{
	if (!f->tail || !f->tail->text) {
		struct seg *g = xcalloc(1, sizeof *g);
		g->text = evbuffer_new();
		append(f, g);
	}
	return f->tail->text;
}

size_t fs_queued_text(const struct fstream *f)
{
	size_t n = 0;
	for (const struct seg *g = f->head; g; g = g->next)
		if (g->text)
			n += evbuffer_get_length(g->text);
	return n;
}

size_t fs_queued_files(const struct fstream *f)
{
	size_t n = 0;
	for (const struct seg *g = f->head; g; g = g->next)
		n += !g->text;
	return n;
}

bool fs_empty(const struct fstream *f)
{
	return !f->head;
}

/* Up to FS_OUT_MAX octets of g's literal into out (0 when it is done). */
static size_t produce(struct seg *g, char *out)
{
	char in[FS_CHUNK], dbuf[FS_OUT_MAX];
	while (g->left) {
		if (g->eof) {
			size_t n = g->left < FS_CHUNK ? (size_t)g->left : FS_CHUNK;
			memset(out, ' ', n);
			g->left -= n;
			return n;
		}
		ssize_t k = crlf_read(&g->rd, in, sizeof in);
		const char *p = in;
		size_t n = k > 0 ? (size_t)k : 0;
		if (k <= 0 && (!g->decode || g->flushed)) {
			g->eof = true;
			log_err("fetch: message file shorter than its literal; %llu octets padded",
				(unsigned long long)g->left);
			continue;
		}
		if (g->decode) {
			g->flushed = k <= 0;
			n = mstream_dec_run(&g->dec, in, n, g->flushed, dbuf);
			p = dbuf;
		}
		size_t d = g->skip < n ? (size_t)g->skip : n;
		p += d;
		n -= d;
		g->skip -= d;
		if (n > g->left)
			n = (size_t)g->left;
		if (n) {
			memcpy(out, p, n);
			g->left -= n;
			return n;
		}
	}
	return 0;
}

static void seg_init(struct seg *g, int fd, uint64_t off, uint64_t clen, const struct mstream_dec *d,
		     uint64_t skip, uint64_t len)
{
	g->fd = fd;
	crlf_reader_init(&g->rd, fd, off, clen);
	g->decode = d != NULL;
	if (d)
		g->dec = *d;
	g->skip = skip;
	g->left = len;
}

/* The literal now (small) or queued (large). */
static void literal(struct fstream *f, int fd, uint64_t off, uint64_t clen, const struct mstream_dec *d,
		    uint64_t skip, uint64_t len, bool tilde)
{
	struct evbuffer *t = fs_text(f);
	evbuffer_add_printf(t, "%s{%llu}\r\n", tilde ? "~" : "", (unsigned long long)len);
	if (!len)
		return;
	struct seg *g = xcalloc(1, sizeof *g);
	if (len <= FS_INLINE_MAX) {
		seg_init(g, fd, off, clen, d, skip, len);
		char out[FS_OUT_MAX];
		size_t n;
		while ((n = produce(g, out)) > 0)
			evbuffer_add(t, out, n);
		free(g);
		return;
	}
	int dup_fd = dup(fd);
	if (dup_fd < 0) {
		/* out of descriptors: the octets are owed all the same */
		seg_init(g, -1, off, clen, d, skip, len);
		g->eof = true;
	} else {
		seg_init(g, dup_fd, off, clen, d, skip, len);
	}
	append(f, g);
}

void fs_range(struct fstream *f, int fd, uint64_t off, uint64_t len, bool tilde)
{
	literal(f, fd, off, len, NULL, 0, len, tilde);
}

void fs_decoded(struct fstream *f, int fd, uint64_t off, uint64_t clen,
		const struct mstream_dec *d, uint64_t skip, uint64_t len, bool tilde)
{
	literal(f, fd, off, clen, d, skip, len, tilde);
}

int fs_decoded_size(int fd, uint64_t off, uint64_t clen, const struct mstream_dec *d,
		    uint64_t skip, uint64_t len, uint64_t *size, bool *nul)
{
	struct crlf_reader *rd = xmalloc(sizeof *rd);
	struct mstream_dec dec = *d;
	crlf_reader_init(rd, fd, off, clen);
	char in[FS_CHUNK], out[FS_OUT_MAX];
	*size = 0;
	*nul = false;
	int rc = 0;
	for (bool final = false; !final;) {
		ssize_t k = crlf_read(rd, in, sizeof in);
		if (k < 0) {
			rc = -1;
			break;
		}
		final = k == 0;
		size_t n = mstream_dec_run(&dec, in, (size_t)k, final, out);
		/* a NUL within [skip, skip + len) of the decoded octets? */
		for (size_t i = 0; i < n && !*nul; i++)
			*nul = out[i] == '\0' && *size + i >= skip && *size + i - skip < len;
		*size += n;
	}
	free(rd);
	return rc;
}

void fs_send(struct fstream *f, struct evbuffer *out, size_t room)
{
	while (f->head && room) {
		struct seg *g = f->head;
		size_t n;
		if (g->text) {
			/* unlinked first: adding to out may run callbacks (COMPRESS) */
			f->head = g->next;
			if (!f->head)
				f->tail = NULL;
			n = evbuffer_get_length(g->text);
			evbuffer_add_buffer(out, g->text);
			seg_free(g);
		} else {
			struct evbuffer_iovec v;
			if (evbuffer_reserve_space(out, FS_OUT_MAX, &v, 1) < 1)
				return;
			n = produce(g, v.iov_base);
			if (!g->left) {
				f->head = g->next;
				if (!f->head)
					f->tail = NULL;
				seg_free(g);
			}
			v.iov_len = n;
			evbuffer_commit_space(out, &v, 1);
		}
		room = n < room ? room - n : 0;
	}
}
