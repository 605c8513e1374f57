/* dns_want.h — the DNS records a mail domain served by this instance should
 * publish (`mailctl dns`), built from the instance: its host name and port
 * base, the DKIM keys under DIR/dkim/DOMAIN/, the TLS certificate smtpd
 * presents (and a staged next one, DIR/tls/next-cert.pem), and the MTA-STS
 * policy this instance would serve. */
#ifndef TERN_MAILCTL_DNS_WANT_H
#define TERN_MAILCTL_DNS_WANT_H

#include "common/instance.h"

#include <stdbool.h>
#include <stddef.h>

/* The staged certificate: publish its TLSA record before it replaces tls_cert. */
#define TLS_NEXT_CERT	"tls/next-cert.pem"

struct dns_want {
	char *owner;		/* "name." */
	int type;		/* DNS_T_* of common/dns_text.h */
	char *rdata;		/* presentation text (TXT unquoted) */
	const char *prefix;	/* TXT: what starts a record of the same purpose, or NULL */
	const char *comment;	/* printed above the record, or NULL */
};

struct dns_wants {
	struct dns_want *w;
	size_t n;
	char **notes;		/* lines printed on top (what to do with the records) */
	size_t nnotes;
};

bool dns_want_valid_domain(const char *d);
/* 0, or -1 with why (the domain is not ours, a key cannot be read ...). */
int dns_wants_build(const struct instance *in, const char *domain, struct dns_wants *ws,
		    char *why, size_t whylen);
void dns_wants_free(struct dns_wants *ws);

#endif
