/* urlfetch.h — fetching a URLAUTH-authorised IMAP URL (RFC 4467) from the
 * imapd mail role, for those who cannot read the owner's Maildir: an IMAP
 * session of another user (URLFETCH, CATENATE) and smtpd (BURL, RFC 4468).
 *
 * Channel: RUN/imap-urlauth.sock, served by `tern-imapd --mail`. The server
 * knows who asks from the peer's credentials: one of its own session
 * processes (the user it forked it for), or smtpd's account (the
 * submission server, which names the authenticated user it sends for).
 * For each request it forks a worker confined to the URL owner's Maildir
 * that checks the URLAUTH token with the owner's mailbox access key and the
 * access identifier against the asker, and yields only the octets the URL
 * names: URLFETCH_RES carries their size and a pipe they then come through.
 *
 *   URLFETCH_REQ: str url, u32 flags (URLF_*), str user the submission
 *                 server sends for ("" from a session)
 *   URLFETCH_RES: u32 ok (0: no such URL for this asker), u64 size,
 *                 u32 has_nul, str BODYPARTSTRUCTURE ("" unless asked),
 *                 fd: the pipe (when ok)
 *
 * A session process may not make stream sockets once sandboxed (it must not
 * reach queue.sock or any other of the suite's sockets), so it connects once,
 * before its seccomp filter, and keeps that connection as its channel: for
 * each request it makes a socketpair and sends one end over the channel
 *   URLFETCH_CHAN: fd: the server's end of one request's connection
 * which the server treats as a connection accepted from that session. */
#ifndef TERN_URLFETCH_H
#define TERN_URLFETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ipc_msg;

#define URLFETCH_SOCK	"imap-urlauth.sock"
#define URLFETCH_REQ	320
#define URLFETCH_RES	321
#define URLFETCH_CHAN	322

#define URLF_BINARY	1	/* the octets with transfer encodings undone */
#define URLF_BPS	2	/* BODYPARTSTRUCTURE wanted */
#define URLF_DATA	4	/* the octets wanted (BODY or BINARY) */

#define URLFETCH_BPS_MAX	(128 * 1024)
#define URLFETCH_TIMEOUT_MS	30000

struct urlfetch_reply {
	bool ok;
	uint64_t size;
	bool nul;
	char *bps;	/* NULL unless asked for */
	int fd;		/* the octets: exactly size of them; -1 when none */
};

/* Ask the server at path (blocking, bounded by URLFETCH_TIMEOUT_MS).
 * 0 with r filled (r->ok false: NIL), -1 when the server cannot be asked. */
int urlfetch_ask(const char *path, const char *url, unsigned flags, const char *submit_user,
		 struct urlfetch_reply *r);
/* The same through a session's channel (connected to the server before the
 * session's sandbox): the request goes on a socketpair of its own. */
int urlfetch_ask_via(int chan, const char *url, unsigned flags, struct urlfetch_reply *r);
/* Read the reply's octets into sink chunk by chunk: 0 once all size
 * arrived, -1 on a short read, a timeout, or when sink returns non-zero. */
int urlfetch_read(struct urlfetch_reply *r, int (*sink)(void *arg, const char *p, size_t n), void *arg);
void urlfetch_reply_free(struct urlfetch_reply *r);

/* The message parts of the channel, for an asynchronous client (smtpd). */
void urlfetch_request(struct ipc_msg *m, const char *url, unsigned flags, const char *submit_user);
/* 0, or -1 when m is not a well-formed reply. Takes m's fd. */
int urlfetch_parse(struct ipc_msg *m, struct urlfetch_reply *r);

#endif
