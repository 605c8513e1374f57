/* https.h — the one way the suite makes an HTTPS request (libcurl), shared by
 * the MTA-STS fetcher (deliverd/sts_fetch.c) and the TLS report poster
 * (mailctl/report_post.c): HTTPS only, the certificate checked against a CA
 * bundle (given as its bytes: the fetcher runs chrooted) for the URL's host
 * name, the address found by the caller through common/dns so that
 * dns_server holds, no redirects, TLS 1.2 or later, a time limit, no signals. */
#ifndef TERN_HTTPS_H
#define TERN_HTTPS_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

struct https_req {
	const char *url;	/* https://HOST[:PORT]/... */
	const char *host;	/* HOST as in the URL (no brackets) */
	unsigned port;
	const char *addr;	/* where HOST is: an IP address */
	const char *ca;		/* PEM bundle and its length */
	size_t calen;
	int timeout_sec;
	const char *agent;	/* User-Agent */
};

struct https_handle {
	CURL *c;
	struct curl_slist *resolve;
	struct curl_blob ca;
};

/* A handle with everything above set; the caller adds the method and body or
 * the write callback, performs, then calls https_done. false: no handle. */
bool https_begin(struct https_handle *h, const struct https_req *r);
void https_done(struct https_handle *h);

/* Split an https: URL into host (brackets removed) and port (443 by
 * default), with libcurl's URL parser; false when it is not one. */
bool https_url_parts(const char *url, char *host, size_t hostlen, unsigned *port);

/* The address of host for https_req.addr: host itself when it is an IP
 * address, else its first A (or AAAA) record through common/dns. */
bool https_resolve(const char *host, char addr[64]);

/* A CA bundle's bytes (at most 16 MB; malloc'd), NULL with errno. */
char *https_read_ca(const char *path, size_t *len);

#endif
