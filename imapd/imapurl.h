/* imapurl.h — IMAP URLs (RFC 5092) that name one message or part of one, as
 * CATENATE (RFC 4469), URLAUTH (RFC 4467, RFC 5524) and BURL (RFC 4468) use
 * them:
 *
 *   [imap://user[;AUTH=x]@host[:port]]/mailbox[;UIDVALIDITY=n]/;UID=n
 *       [/;SECTION=s][/;PARTIAL=o[.l]][;EXPIRE=date-time][;URLAUTH=access[:mech:token]]
 *
 * Keys are case-insensitive; user, mailbox and section are %-encoded (the
 * mailbox in UTF-8). A relative URL (starting with "/") means this server
 * and the session's own user. Pure parsing: no I/O. */
#ifndef TERN_IMAPD_IMAPURL_H
#define TERN_IMAPD_IMAPURL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMAP_URL_MAX	2048	/* longest URL accepted (octets) */

struct imap_url {
	char *user, *host;	/* decoded; NULL in a relative URL */
	char *mailbox;		/* decoded: UTF-8 as in the URL */
	uint32_t uidvalidity;	/* 0: not given */
	uint32_t uid;
	char *section;		/* decoded; NULL: the whole message */
	bool partial;
	uint64_t pstart, plen;	/* plen 0: to the end */
	int64_t expire;		/* ;EXPIRE=, -1: none */
	char *access;		/* ;URLAUTH= access identifier, decoded ("user+fred"); NULL: none */
	char *mech, *token;	/* its verifier; NULL in a URLAUTH rump */
	size_t rump_len;	/* octets of the URL text the verifier signs */
};

/* 0, or -1 when s is not such a URL (u is then empty). */
int imap_url_parse(const char *s, struct imap_url *u);
void imap_url_free(struct imap_url *u);

/* The user that owns the URL's mailbox: user@domain as given, or
 * user + "@" + host when the URL's user has no domain; NULL when relative. */
char *imap_url_owner(const struct imap_url *u);

#endif
