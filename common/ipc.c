/* ipc.c — framing, typed fields and fd passing for tern IPC. */
#include "common/ipc.h"
#include "common/util.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

enum { T_U32 = 1, T_U64 = 2, T_STR = 3, T_BYTES = 4 };

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

void ipc_msg_init(struct ipc_msg *m, uint16_t type, uint32_t id)
{
	memset(m, 0, sizeof *m);
	m->hdr.type = type;
	m->hdr.version = IPC_VERSION;
	m->hdr.id = id;
	m->fd = -1;
	m->saved_tag = -1;
}

void ipc_msg_free(struct ipc_msg *m)
{
	if (m->sensitive)
		free_wipe(m->data, m->cap);
	else
		free(m->data);
	if (m->fd >= 0)
		close(m->fd);
	m->data = NULL;
	m->fd = -1;
}

static void reserve(struct ipc_msg *m, size_t more)
{
	if (m->hdr.len + more > IPC_MAX_PAYLOAD)
		fatal("ipc: message type %u over %d bytes (bug)", m->hdr.type, IPC_MAX_PAYLOAD);
	if (m->hdr.len + more > m->cap) {
		size_t cap = (m->hdr.len + more) * 2;
		if (m->sensitive)
			m->data = xrealloc_wipe(m->data, m->cap, m->hdr.len, cap);
		else
			m->data = xrealloc(m->data, cap);
		m->cap = cap;
	}
}

static void put_field(struct ipc_msg *m, int tag, const void *p, size_t n)
{
	reserve(m, 5 + n);
	m->data[m->hdr.len] = (unsigned char)tag;
	put_be32(m->data + m->hdr.len + 1, (uint32_t)n);
	if (n)
		memcpy(m->data + m->hdr.len + 5, p, n);
	m->hdr.len += (uint32_t)(5 + n);
}

void ipc_put_u32(struct ipc_msg *m, uint32_t v)
{
	unsigned char b[4];
	put_be32(b, v);
	put_field(m, T_U32, b, 4);
}

void ipc_put_u64(struct ipc_msg *m, uint64_t v)
{
	unsigned char b[8];
	put_be32(b, (uint32_t)(v >> 32));
	put_be32(b + 4, (uint32_t)v);
	put_field(m, T_U64, b, 8);
}

void ipc_put_str(struct ipc_msg *m, const char *s)
{
	put_field(m, T_STR, s ? s : "", s ? strlen(s) : 0);
}

void ipc_put_bytes(struct ipc_msg *m, const void *p, size_t n)
{
	put_field(m, T_BYTES, p, n);
}

void ipc_put_fd(struct ipc_msg *m, int fd)
{
	if (m->fd >= 0)
		fatal("ipc: two fds in one message (bug)");
	m->fd = fd;
	m->hdr.flags |= IPC_F_FD;
}

/* Returns a pointer to the field's data, or NULL (m->bad set). */
static const unsigned char *get_field(struct ipc_msg *m, int tag, size_t *n)
{
	int have = m->rpos + 5 <= m->hdr.len ? m->data[m->rpos] : -1;
	if (m->saved_tag_pos == m->rpos && m->saved_tag >= 0)
		have = m->saved_tag;
	if (m->bad || m->rpos + 5 > m->hdr.len || have != tag) {
		m->bad = true;
		return NULL;
	}
	size_t len = get_be32(m->data + m->rpos + 1);
	if (len > m->hdr.len - m->rpos - 5) {
		m->bad = true;
		return NULL;
	}
	const unsigned char *p = m->data + m->rpos + 5;
	m->rpos += 5 + len;
	*n = len;
	return p;
}

uint32_t ipc_get_u32(struct ipc_msg *m)
{
	size_t n;
	const unsigned char *p = get_field(m, T_U32, &n);
	if (!p || n != 4) {
		m->bad = true;
		return 0;
	}
	return get_be32(p);
}

uint64_t ipc_get_u64(struct ipc_msg *m)
{
	size_t n;
	const unsigned char *p = get_field(m, T_U64, &n);
	if (!p || n != 8) {
		m->bad = true;
		return 0;
	}
	return (uint64_t)get_be32(p) << 32 | get_be32(p + 4);
}

const char *ipc_get_str(struct ipc_msg *m, size_t maxlen)
{
	size_t n;
	const unsigned char *p = get_field(m, T_STR, &n);
	if (!p || n > maxlen || memchr(p, '\0', n)) {
		m->bad = true;
		return NULL;
	}
	/* Terminate in place: the byte after the string is the next field's tag
	 * (or the spare byte ipc_decode adds), so remember that tag first. */
	m->saved_tag = m->data[m->rpos];
	m->saved_tag_pos = m->rpos;
	m->data[m->rpos] = '\0';
	return (const char *)p;
}

const void *ipc_get_bytes(struct ipc_msg *m, size_t *len, size_t maxlen)
{
	const unsigned char *p = get_field(m, T_BYTES, len);
	if (!p || *len > maxlen) {
		m->bad = true;
		return NULL;
	}
	return p;
}

int ipc_take_fd(struct ipc_msg *m)
{
	int fd = m->fd;
	m->fd = -1;
	return fd;
}

bool ipc_end(struct ipc_msg *m)
{
	return !m->bad && m->rpos == m->hdr.len;
}

unsigned char *ipc_encode(const struct ipc_msg *m, size_t *len)
{
	unsigned char *b = xmalloc(IPC_HDR_LEN + m->hdr.len);
	put_be32(b, m->hdr.len);
	b[4] = (unsigned char)(m->hdr.type >> 8);
	b[5] = (unsigned char)m->hdr.type;
	b[6] = m->hdr.version;
	b[7] = m->hdr.flags;
	put_be32(b + 8, m->hdr.id);
	if (m->hdr.len)
		memcpy(b + IPC_HDR_LEN, m->data, m->hdr.len);
	*len = IPC_HDR_LEN + m->hdr.len;
	return b;
}

long ipc_decode(const unsigned char *buf, size_t len, struct ipc_msg *m)
{
	if (len < IPC_HDR_LEN)
		return 0;
	uint32_t plen = get_be32(buf);
	if (plen > IPC_MAX_PAYLOAD || buf[6] != IPC_VERSION)
		return -1;
	if (len < IPC_HDR_LEN + plen)
		return 0;
	ipc_msg_init(m, (uint16_t)(buf[4] << 8 | buf[5]), get_be32(buf + 8));
	m->hdr.flags = buf[7];
	m->hdr.len = plen;
	m->data = xmalloc(plen + 1);
	m->cap = plen + 1;
	memcpy(m->data, buf + IPC_HDR_LEN, plen);
	m->data[plen] = '\0';
	return (long)(IPC_HDR_LEN + plen);
}

/* ---- connection ---- */

void ipc_conn_init(struct ipc_conn *c, int sock)
{
	memset(c, 0, sizeof *c);
	c->sock = sock;
}

void ipc_conn_sensitive(struct ipc_conn *c)
{
	c->in.sensitive = true;
	c->out.sensitive = true;
}

void ipc_conn_close(struct ipc_conn *c)
{
	if (c->sock >= 0)
		close(c->sock);
	for (int i = 0; i < c->nfds; i++)
		close(c->fds[i]);
	for (size_t i = 0; i < c->out_nfds; i++)
		close(c->out_fds[i]);
	strbuf_free(&c->in);
	strbuf_free(&c->out);
	free(c->out_fds);
	free(c->out_fd_pos);
	memset(c, 0, sizeof *c);
	c->sock = -1;
}

static void collect_fds(struct ipc_conn *c, struct msghdr *mh)
{
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		int n = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		int *fds = (int *)CMSG_DATA(cm);
		for (int i = 0; i < n; i++) {
			if (c->nfds < (int)ARRAY_LEN(c->fds)) {
				c->fds[c->nfds++] = fds[i];
			} else {
				close(fds[i]);
				c->failed = true;
			}
		}
	}
}

int ipc_conn_read(struct ipc_conn *c)
{
	for (;;) {
		/* Keep room for the fds one recvmsg may bring: when a peer sends many
		 * fd-carrying messages at once, the rest waits in the kernel until the
		 * caller has taken the complete messages (it is called again then). */
		if (c->nfds > (int)ARRAY_LEN(c->fds) - 8)
			return 0;
		if (c->in.cap - c->in.len <= 4096 && c->in.cap > IPC_MAX_PAYLOAD + IPC_HDR_LEN + 65536)
			return 0;	/* wait for the consumer to drain */
		char *room = strbuf_room(&c->in, 4096);
		union { char buf[CMSG_SPACE(sizeof(int) * 8)]; struct cmsghdr align; } cbuf;
		struct iovec iov = { room, c->in.cap - 1 - c->in.len };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf.buf, .msg_controllen = sizeof cbuf.buf };
		ssize_t n = recvmsg(c->sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		collect_fds(c, &mh);
		if (n == 0) {
			c->eof = true;
			return 0;
		}
		strbuf_commit(&c->in, (size_t)n);
	}
}

int ipc_conn_next(struct ipc_conn *c, struct ipc_msg *m)
{
	if (c->failed)
		return -1;
	long used = ipc_decode((const unsigned char *)c->in.p, c->in.len, m);
	if (used <= 0)
		return (int)used;
	m->sensitive = c->in.sensitive;
	if (m->hdr.flags & IPC_F_FD) {
		if (c->nfds == 0) {
			ipc_msg_free(m);
			return -1;
		}
		m->fd = c->fds[0];
		memmove(c->fds, c->fds + 1, sizeof(int) * (size_t)--c->nfds);
	}
	strbuf_drop(&c->in, (size_t)used);
	return 1;
}

void ipc_conn_queue(struct ipc_conn *c, struct ipc_msg *m)
{
	size_t n;
	unsigned char *b = ipc_encode(m, &n);
	if (m->fd >= 0) {
		c->out_fds = xrealloc(c->out_fds, (c->out_nfds + 1) * sizeof(int));
		c->out_fd_pos = xrealloc(c->out_fd_pos, (c->out_nfds + 1) * sizeof(size_t));
		c->out_fds[c->out_nfds] = m->fd;
		c->out_fd_pos[c->out_nfds++] = c->out.len;
		m->fd = -1;
	}
	if (m->sensitive)
		c->out.sensitive = true;
	strbuf_add(&c->out, (const char *)b, n);
	if (c->out.sensitive)	/* e.g. authd's replies carry login tokens */
		free_wipe(b, n);
	else
		free(b);
}

int ipc_conn_flush(struct ipc_conn *c)
{
	while (c->out_off < c->out.len) {
		size_t end = c->out.len;
		union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } cbuf;
		struct msghdr mh = { 0 };
		bool with_fd = c->out_nfds && c->out_fd_pos[0] == c->out_off;
		/* Send up to the next fd boundary so each fd rides on its own message. */
		if (c->out_nfds > (with_fd ? 1u : 0u))
			end = c->out_fd_pos[with_fd ? 1 : 0];
		struct iovec iov = { c->out.p + c->out_off, end - c->out_off };
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		if (with_fd) {
			memset(&cbuf, 0, sizeof cbuf);
			mh.msg_control = cbuf.buf;
			mh.msg_controllen = sizeof cbuf.buf;
			struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &c->out_fds[0], sizeof(int));
		}
		ssize_t n = sendmsg(c->sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		if (with_fd) {
			close(c->out_fds[0]);
			c->out_nfds--;
			memmove(c->out_fds, c->out_fds + 1, c->out_nfds * sizeof(int));
			memmove(c->out_fd_pos, c->out_fd_pos + 1, c->out_nfds * sizeof(size_t));
		}
		c->out_off += (size_t)n;
	}
	strbuf_reset(&c->out);
	c->out_off = 0;
	return 1;
}

/* ---- blocking helpers ---- */

int ipc_send(int sock, struct ipc_msg *m)
{
	return ipc_send_within(sock, m, 30000);
}

int ipc_send_within(int sock, struct ipc_msg *m, int timeout_ms)
{
	struct ipc_conn c;
	ipc_conn_init(&c, sock);
	ipc_conn_queue(&c, m);
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	int r;
	while ((r = ipc_conn_flush(&c)) == 0) {
		int left = (int)(deadline - now_ms());
		struct pollfd p = { sock, POLLOUT, 0 };
		if (left <= 0 || poll(&p, 1, left) <= 0) {
			errno = ETIMEDOUT;
			r = -1;
			break;
		}
	}
	c.sock = -1;
	ipc_conn_close(&c);
	return r == 1 ? 0 : -1;
}

int ipc_recv(int sock, struct ipc_msg *m, int timeout_ms)
{
	unsigned char hdr[IPC_HDR_LEN];
	size_t got = 0;
	int fd = -1;
	uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
	unsigned char *buf = hdr;
	size_t want = IPC_HDR_LEN;
	unsigned char *full = NULL;

	while (got < want) {
		int left = (int)(deadline - now_ms());
		struct pollfd p = { sock, POLLIN, 0 };
		if (timeout_ms >= 0 && (left <= 0 || poll(&p, 1, left) <= 0))
			goto fail;
		union { char b[CMSG_SPACE(sizeof(int) * 4)]; struct cmsghdr align; } cbuf;
		struct iovec iov = { buf + got, want - got };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = cbuf.b, .msg_controllen = sizeof cbuf.b };
		ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
			for (int i = 0; i < k; i++) {
				int f;
				memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof f);
				if (fd < 0)
					fd = f;
				else
					close(f);
			}
		}
		got += (size_t)n;
		if (buf == hdr && got == IPC_HDR_LEN) {
			uint32_t plen = get_be32(hdr);
			if (plen > IPC_MAX_PAYLOAD || hdr[6] != IPC_VERSION)
				goto fail;
			full = xmalloc(IPC_HDR_LEN + plen);
			memcpy(full, hdr, IPC_HDR_LEN);
			buf = full;
			want = IPC_HDR_LEN + plen;
		}
	}
	if (!full) {
		full = xmalloc(IPC_HDR_LEN);
		memcpy(full, hdr, IPC_HDR_LEN);
	}
	if (ipc_decode(full, want, m) <= 0)
		goto fail;
	/* A blocking reader cannot tell a login token from any other field. */
	free_wipe(full, want);
	if (m->hdr.flags & IPC_F_FD) {
		if (fd < 0) {
			ipc_msg_free(m);
			return -1;
		}
		m->fd = fd;
	} else if (fd >= 0) {
		close(fd);
	}
	return 0;
fail:
	free_wipe(full, want);
	if (fd >= 0)
		close(fd);
	return -1;
}

int ipc_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlcpy_t(sa.sun_path, path, sizeof sa.sun_path) >= sizeof sa.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		close(s);
		errno = e;
		return -1;
	}
	return s;
}

int ipc_listen(const char *path, unsigned mode)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlcpy_t(sa.sun_path, path, sizeof sa.sun_path) >= sizeof sa.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	unlink(path);
	if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0 || chmod(path, mode) < 0 ||
	    listen(s, 128) < 0) {
		int e = errno;
		close(s);
		errno = e;
		return -1;
	}
	return s;
}

int ipc_peer_uid(int sock, unsigned *uid, int *pid)
{
	struct ucred cr;
	socklen_t len = sizeof cr;
	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return -1;
	*uid = cr.uid;
	if (pid)
		*pid = cr.pid;
	return 0;
}

bool ipc_get_strbuf(struct ipc_msg *m, char *dst, size_t cap)
{
	const char *s = ipc_get_str(m, cap - 1);
	if (!s)
		return false;
	memcpy(dst, s, strlen(s) + 1);
	return true;
}
