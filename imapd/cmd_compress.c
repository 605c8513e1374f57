/* cmd_compress.c — COMPRESS=DEFLATE (RFC 4978): raw deflate both ways, as a
 * libevent filter over the session's connection. Every output burst ends with
 * a sync flush so the client sees whole responses; inflation stops at the
 * filter's read limit, so a compressed bomb cannot outgrow the command limits;
 * deflation stops while the socket's buffer is full (back-pressure). */
#include "imapd/commands.h"
#include "common/log.h"
#include "common/util.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define Z_CHUNK 16384
#define Z_READ_HIGH (1024 * 1024)

struct zctx {
	z_stream in, out;
};

/* Run zlib over src into dst; deflating when out, inflating otherwise. */
static enum bufferevent_filter_result zrun(z_stream *z, bool out, struct evbuffer *src,
					   struct evbuffer *dst, ev_ssize_t limit)
{
	size_t dst0 = evbuffer_get_length(dst);
	for (int guard = 0; guard < 100000; guard++) {
		if (!out && limit > 0 && (ev_ssize_t)evbuffer_get_length(dst) >= limit)
			return BEV_OK;	/* resume when the reader drains */
		if (out && limit > 0 && (ev_ssize_t)(evbuffer_get_length(dst) - dst0) >= limit)
			return BEV_OK;	/* the socket's buffer is full: resume when it drains */
		struct evbuffer_iovec v;
		size_t have = evbuffer_get_length(src);
		if (have && evbuffer_peek(src, -1, NULL, &v, 1) < 1)
			return BEV_ERROR;
		z->next_in = have ? v.iov_base : NULL;
		z->avail_in = have ? (uInt)v.iov_len : 0;
		struct evbuffer_iovec o;
		if (evbuffer_reserve_space(dst, Z_CHUNK, &o, 1) < 1)
			return BEV_ERROR;
		z->next_out = o.iov_base;
		z->avail_out = (uInt)o.iov_len;
		int r = out ? deflate(z, Z_SYNC_FLUSH) : inflate(z, Z_SYNC_FLUSH);
		o.iov_len -= z->avail_out;
		evbuffer_commit_space(dst, &o, 1);
		if (have)
			evbuffer_drain(src, v.iov_len - z->avail_in);
		if (r == Z_STREAM_ERROR || r == Z_DATA_ERROR || r == Z_NEED_DICT || r == Z_MEM_ERROR ||
		    (r == Z_STREAM_END && !out))
			return BEV_ERROR;
		/* done when all input is consumed and zlib had room to spare */
		if (!evbuffer_get_length(src) && z->avail_out > 0)
			return BEV_OK;
		if (r == Z_BUF_ERROR && !have)
			return BEV_OK;
	}
	return BEV_ERROR;
}

static enum bufferevent_filter_result z_input(struct evbuffer *src, struct evbuffer *dst,
					      ev_ssize_t limit, enum bufferevent_flush_mode m, void *arg)
{
	return zrun(&((struct zctx *)arg)->in, false, src, dst, limit);
}

static enum bufferevent_filter_result z_output(struct evbuffer *src, struct evbuffer *dst,
					       ev_ssize_t limit, enum bufferevent_flush_mode m, void *arg)
{
	if (!evbuffer_get_length(src))
		return BEV_OK;
	return zrun(&((struct zctx *)arg)->out, true, src, dst, m == BEV_NORMAL ? limit : -1);
}

static void zfree(void *arg)
{
	struct zctx *z = arg;
	inflateEnd(&z->in);
	deflateEnd(&z->out);
	free(z);
}

void cmd_compress(struct session *s, struct ip *ip, bool uid)
{
	char *alg = NULL;
	if (!ip_sp(ip) || !(alg = ip_atom(ip)) || !ip_eol(ip)) {
		free(alg);
		s_bad(s, "Syntax: COMPRESS DEFLATE");
		return;
	}
	bool deflate_alg = !strcasecmp(alg, "DEFLATE");
	free(alg);
	if (!deflate_alg) {
		s_no(s, "Unknown compression mechanism");
		return;
	}
	if (s->compressed) {
		s_no(s, "[COMPRESSIONACTIVE] Compression is already active");
		return;
	}
	struct zctx *z = xcalloc(1, sizeof *z);
	if (inflateInit2(&z->in, -15) != Z_OK ||
	    deflateInit2(&z->out, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(z);
		s_no(s, "[SERVERBUG] Cannot start compression");
		return;
	}
	/* the OK goes out uncompressed: it is already in the socket's buffer */
	s_ok(s, "DEFLATE active");
	struct bufferevent *f = bufferevent_filter_new(s->bev, z_input, z_output,
						       BEV_OPT_CLOSE_ON_FREE, zfree, z);
	if (!f) {
		zfree(z);
		s->closing = true;
		return;
	}
	bufferevent_setwatermark(f, EV_READ, 0, Z_READ_HIGH);
	/* output waits above the socket's buffer once that holds this much, so a
	 * streaming FETCH is asked for more only as the client reads */
	bufferevent_setwatermark(s->bev, EV_WRITE, 0, S_OUT_HIGH / 2);
	s->compressed = true;
	session_set_bev(s, f);
}
