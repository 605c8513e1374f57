/* ipc.h — typed messages between tern processes over Unix stream sockets.
 *
 * Frame: a 12-byte header (payload length, message type, protocol version,
 * flags, request id) and a payload of typed fields. Every field carries its type
 * tag and length; readers check both and NUL-terminate strings, so a malformed
 * or truncated message is detected, never misread. A message may carry one file
 * descriptor (IPC_F_FD), passed with SCM_RIGHTS alongside its bytes.
 *
 * The message types of each channel are declared in the header of the process
 * that serves it (authd/auth_proto.h, queued/queue_proto.h, ...). */
#ifndef TERN_IPC_H
#define TERN_IPC_H

#include "common/strbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IPC_VERSION	1
#define IPC_HDR_LEN	12
#define IPC_MAX_PAYLOAD	(256 * 1024)
#define IPC_F_FD	0x0001	/* one fd travels with this message */

struct ipc_hdr {
	uint32_t len;		/* payload bytes */
	uint16_t type;
	uint8_t version;
	uint8_t flags;
	uint32_t id;		/* request id, echoed in the reply */
};

/* A message being built or read. */
struct ipc_msg {
	struct ipc_hdr hdr;
	unsigned char *data;	/* payload */
	size_t cap;
	size_t rpos;		/* read position for ipc_get_* */
	int fd;			/* -1 when none */
	bool bad;		/* a get_* failed: message malformed */
	int saved_tag;		/* tag byte overwritten by a string's NUL, or -1 */
	size_t saved_tag_pos;
	/* May hold a credential (a LOGIN password, a login token): set before
	 * the first put. Growing and freeing then wipe the bytes left behind,
	 * and so do the encoded copies the send paths make (util.h free_wipe). */
	bool sensitive;
};

void ipc_msg_init(struct ipc_msg *m, uint16_t type, uint32_t id);
void ipc_msg_free(struct ipc_msg *m);	/* closes m->fd if still owned */

void ipc_put_u32(struct ipc_msg *m, uint32_t v);
void ipc_put_u64(struct ipc_msg *m, uint64_t v);
void ipc_put_str(struct ipc_msg *m, const char *s);	/* NULL sends an empty string */
void ipc_put_bytes(struct ipc_msg *m, const void *p, size_t n);
void ipc_put_fd(struct ipc_msg *m, int fd);	/* message takes ownership of fd */

/* Readers: on a type or length mismatch they set m->bad and return 0/NULL. Strings
 * point into the message (valid until ipc_msg_free) and contain no NUL. */
uint32_t ipc_get_u32(struct ipc_msg *m);
uint64_t ipc_get_u64(struct ipc_msg *m);
const char *ipc_get_str(struct ipc_msg *m, size_t maxlen);
/* A string into dst (cap bytes, so at most cap - 1 long); false if missing or longer. */
bool ipc_get_strbuf(struct ipc_msg *m, char *dst, size_t cap);
const void *ipc_get_bytes(struct ipc_msg *m, size_t *len, size_t maxlen);
int ipc_take_fd(struct ipc_msg *m);	/* caller owns the fd now; -1 if none */
/* True if every field was read and none failed. */
bool ipc_end(struct ipc_msg *m);

/* Serialise m into a fresh buffer (header + payload); *len set. */
unsigned char *ipc_encode(const struct ipc_msg *m, size_t *len);
/* Decode one frame from buf: returns bytes consumed (>0), 0 if incomplete,
 * -1 if malformed (bad version, oversized). On >0, m owns a copy of the payload. */
long ipc_decode(const unsigned char *buf, size_t len, struct ipc_msg *m);

/* ---- a non-blocking connection with its own buffers and fd queue ---- */
struct ipc_conn {
	int sock;
	struct strbuf in;
	int fds[16];
	int nfds;
	struct strbuf out;
	size_t out_off;		/* bytes of out already sent */
	int *out_fds;		/* fd to send with the byte at out_fd_pos[i] */
	size_t *out_fd_pos;
	size_t out_nfds;
	bool eof;
	bool failed;
};

void ipc_conn_init(struct ipc_conn *c, int sock);
/* A connection that carries credentials (authd's and its clients'): its
 * buffers wipe what they leave behind (strbuf sensitive), and the messages
 * ipc_conn_next decodes are sensitive. A message queued with sensitive set
 * makes the output buffer sensitive from then on by itself. */
void ipc_conn_sensitive(struct ipc_conn *c);
void ipc_conn_close(struct ipc_conn *c);	/* closes sock and queued fds */
/* Read what is available (non-blocking). 0 ok (maybe EOF: c->eof), -1 error. */
int ipc_conn_read(struct ipc_conn *c);
/* Next complete message: 1 got one, 0 need more, -1 malformed (close the conn). */
int ipc_conn_next(struct ipc_conn *c, struct ipc_msg *m);
/* Queue a message (fd ownership moves to the queue). */
void ipc_conn_queue(struct ipc_conn *c, struct ipc_msg *m);
/* Write queued bytes. 1 all written, 0 more pending (wait for EV_WRITE), -1 error. */
int ipc_conn_flush(struct ipc_conn *c);

/* ---- blocking helpers for tools and simple clients ---- */
int ipc_send(int sock, struct ipc_msg *m);		/* sends and frees fd ownership */
/* The same with a bound: -1 (ETIMEDOUT) if the peer has not taken the whole
 * message within timeout_ms; part of it may have gone, so the stream is
 * then unusable and the caller closes it. */
int ipc_send_within(int sock, struct ipc_msg *m, int timeout_ms);
int ipc_recv(int sock, struct ipc_msg *m, int timeout_ms);	/* 0 ok, -1 error/timeout/EOF */
/* Connect to a Unix socket path; -1 with errno. */
int ipc_connect(const char *path);
/* Create a listening Unix socket at path (removing a stale one), mode applied. */
int ipc_listen(const char *path, unsigned mode);

/* Peer credentials of a connected Unix socket. */
int ipc_peer_uid(int sock, unsigned *uid, int *pid);

#endif
