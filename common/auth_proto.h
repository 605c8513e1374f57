/* auth_proto.h — messages of the auth service channel (RUN/auth.sock).
 *
 * authd is the only reader of password hashes and the user database. Clients
 * (smtpd, pop3d, imapd, queued, deliverd, mailctl) send one request and get one
 * reply with the same ipc id; requests may be pipelined and replies may come
 * out of order (a failed login is answered late, on purpose). Field order below
 * is the wire order; every field is required. Strings are bounded by
 * AUTH_MAX_FIELD. authd checks the peer uid (SO_PEERCRED): only root, the
 * instance's own user, and the suite's accounts are served. */
#ifndef TERN_AUTH_PROTO_H
#define TERN_AUTH_PROTO_H

#define AUTH_MAX_FIELD 1024

enum auth_msg {
	/* service, user, password, client_ip -> AUTH_LOGIN_RES
	 * service is "smtp", "pop3", "imap", "http" or "mailctl". */
	AUTH_LOGIN_REQ = 100,
	/* u32 auth_result, canonical user (user@domain), token (hex; see below),
	 * the user's mailbox host when its mail is on another host of the site
	 * (role frontend or mailbox: the login is proxied there; "" stored here) */
	AUTH_LOGIN_RES,

	/* address -> AUTH_RCPT_RES: is this a recipient we accept mail for? */
	AUTH_RCPT_REQ,
	/* u32 rcpt_kind, str mailbox host (RCPT_RELAY; "" otherwise) */
	AUTH_RCPT_RES,

	/* user, address -> AUTH_SENDER_RES: may authenticated user send as address? */
	AUTH_SENDER_REQ,
	/* u32 1 allowed / 0 not */
	AUTH_SENDER_RES,

	/* address -> AUTH_EXPAND_RES: final mailboxes for local delivery (aliases,
	 * catch-all and +detail resolved, nested aliases with loop detection), and
	 * the addresses outside our domains that aliases forward to. */
	AUTH_EXPAND_REQ,
	/* u32 expand_status, u32 n, then n times: mailbox (user@domain), folder
	 * ("" for INBOX, else the +detail folder name), u64 quota bytes (0 = none),
	 * u32 remote (1: mailbox is a remote address to forward to; folder "") */
	AUTH_EXPAND_RES,

	/* user -> AUTH_USER_RES: does the mailbox exist, and its quota */
	AUTH_USER_REQ,
	/* u32 1 exists / 0 not, u64 quota bytes (0 = none) */
	AUTH_USER_RES,

	/* service, user, site secret, client_ip -> AUTH_SITE_LOGIN_RES: a login a
	 * front-end proxies to this mailbox host (docs/SCALING.md). The front-end
	 * checked the user's password; here the site secret vouches for it, and
	 * only a user stored on this host is let in. client_ip is the client of
	 * the front-end. */
	AUTH_SITE_LOGIN_REQ,
	/* as AUTH_LOGIN_RES (host always "") */
	AUTH_SITE_LOGIN_RES,

	/* user -> AUTH_ADDRESSES_RES: the addresses user may send as, for a
	 * client that has logged that user in (httpd's JMAP Identity): its own
	 * address first, then each alias the SENDER check accepts for it (the
	 * one rule: authd/resolve.c resolve_sender). Answers about that one
	 * user only, never the alias table. */
	AUTH_ADDRESSES_REQ,
	/* u32 n (0: no such user; at most AUTH_MAX_ADDRESSES), n times str */
	AUTH_ADDRESSES_RES,

	/* address -> AUTH_ROUTE_RES: RCPT and, for a local recipient, EXPAND in
	 * one round trip. The queue routes each recipient with it and hands the
	 * expansion to the local agent with the job, so a delivery costs one
	 * lookup, not two (queue_proto.h QUEUE_JOB). */
	AUTH_ROUTE_REQ,
	/* the fields of AUTH_RCPT_RES, then those of AUTH_EXPAND_RES (for a kind
	 * other than RCPT_LOCAL: EXPAND_UNKNOWN and no mailboxes) */
	AUTH_ROUTE_RES,
};

#define AUTH_MAX_ADDRESSES 64

enum auth_result {
	AUTH_OK = 0,
	AUTH_FAIL = 1,		/* wrong user or password */
	AUTH_TEMPFAIL = 2,	/* database unreadable: try later */
	AUTH_LOCKED = 3,	/* too many failures from this client: refused for a while */
};

enum rcpt_kind {
	RCPT_LOCAL = 0,		/* a user, alias or catch-all of a local domain */
	RCPT_UNKNOWN = 1,	/* local domain, no such address: 550 5.1.1 */
	RCPT_REMOTE = 2,	/* not a local domain */
	RCPT_TEMPFAIL = 3,	/* lookup failed: 451 */
	RCPT_RELAY = 4,		/* a user of ours whose mailbox host is another host of the
				 * site (role frontend or mailbox): accepted as local, the
				 * queue takes it there (docs/SCALING.md) */
};

enum expand_status {
	EXPAND_OK = 0,
	EXPAND_UNKNOWN = 1,	/* no such address: bounce */
	EXPAND_LOOP = 2,	/* alias loop or too deep: bounce */
	EXPAND_TEMPFAIL = 3,
};

/* Login token: after AUTH_OK, token = hex(HMAC-SHA256(secret, service "\n" user
 * "\n" expiry)) "." expiry, where secret is the 32-byte run secret the master gives
 * authd and the post-login mail processes (TERN_SECRET_FD). A post-login process
 * accepts a hand-off only with a valid, unexpired token for that user, so a
 * compromised pre-auth process cannot open a mailbox it did not log in to. */

#endif
