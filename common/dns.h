/* dns.h — DNS lookups for the whole suite (MX, A, AAAA, TXT, PTR) through
 * glibc's libresolv, honouring `dns_server = HOST:PORT` in tern.conf
 * (PRODUCT.md 3): when set, every query goes to that server only. Call
 * dns_init() before any chroot (it reads /etc/resolv.conf once).
 *
 * Results distinguish "no such name/record" (a permanent answer) from
 * temporary failure, because mail policy must never turn a DNS timeout into a
 * rejection. Queries are blocking with a short timeout; callers that must not
 * block run them on worker threads (each thread gets its own resolver state). */
#ifndef TERN_DNS_H
#define TERN_DNS_H

#include <arpa/nameser.h>
#include <stdbool.h>
#include <stddef.h>

enum dns_status {
	DNS_OK = 0,
	DNS_NXDOMAIN = 1,	/* the name does not exist */
	DNS_NODATA = 2,		/* the name exists, no record of that type */
	DNS_TEMPFAIL = 3,	/* timeout, SERVFAIL, network error */
	DNS_ERROR = 4,		/* malformed answer or bad query */
};

/* server: "" / NULL for the system resolvers, else "HOST:PORT" or "HOST" (IPv4 or
 * IPv6 literal; IPv6 with a port as "[::1]:53"). 0 or -1 (bad server string). */
int dns_init(const char *server, int timeout_sec);
/* The check of tern.conf's dns_server (cfg_check_fn): what dns_init accepts. */
bool dns_server_check(const char *server, char *why, size_t whylen);

struct dns_mx {
	unsigned pref;
	char host[256];
};

/* MX records sorted by preference (ties in answer order). */
enum dns_status dns_mx(const char *name, struct dns_mx *out, size_t max, size_t *n);
/* IPv4 / IPv6 addresses as text. */
enum dns_status dns_a(const char *name, char out[][64], size_t max, size_t *n);
enum dns_status dns_aaaa(const char *name, char out[][64], size_t max, size_t *n);
/* TXT records; each record's strings concatenated (RFC 7208 3.3), malloc'd. */
enum dns_status dns_txt(const char *name, char ***out, size_t *n);
void dns_txt_free(char **txt, size_t n);
/* PTR for an IPv4/IPv6 address literal: the first name. */
enum dns_status dns_ptr(const char *addr, char *out, size_t len);

const char *dns_status_str(enum dns_status s);

/* Fuzzers and tests only: every query is answered by fn (a malloc'd answer as
 * res_nquery would give it) instead of the network; NULL restores the network. */
typedef enum dns_status (*dns_answer_fn)(const char *name, int type, unsigned char **ans, int *len);
void dns_set_answer_source(dns_answer_fn fn);

/* The raw answer of one query (for libraries that parse it themselves, such as
 * the libspf2 DNS layer): *ans malloc'd, *len bytes. */
enum dns_status dns_query_raw(const char *name, int type, unsigned char **ans, int *len);

/* Each answer record of type at name (CNAMEs on the way skipped): fn returns
 * 0 to go on, -1 for a malformed record (the answer is then DNS_ERROR).
 * DNS_NODATA when none matched. */
enum dns_status dns_each_answer(const char *name, int type,
				int (*fn)(ns_msg *msg, ns_rr *rr, void *arg), void *arg);

#endif
