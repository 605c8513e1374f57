/* https.c — libcurl handles set up the suite's one way (https.h). */
#include "common/https.h"
#include "common/dns.h"
#include "common/strbuf.h"
#include "common/util.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool https_begin(struct https_handle *h, const struct https_req *r)
{
	memset(h, 0, sizeof *h);
	h->c = curl_easy_init();
	if (!h->c)
		return false;
	bool v6 = strchr(r->addr, ':') != NULL;
	char *pin = xasprintf("%s:%u:%s%s%s", r->host, r->port, v6 ? "[" : "", r->addr,
			      v6 ? "]" : "");
	h->resolve = curl_slist_append(NULL, pin);
	free(pin);
	h->ca = (struct curl_blob){ (void *)r->ca, r->calen, CURL_BLOB_NOCOPY };
	CURL *c = h->c;
	curl_easy_setopt(c, CURLOPT_URL, r->url);
	curl_easy_setopt(c, CURLOPT_RESOLVE, h->resolve);	/* the address common/dns found */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &h->ca);
	curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)r->timeout_sec);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, r->agent);
	return true;
}

void https_done(struct https_handle *h)
{
	if (h->c)
		curl_easy_cleanup(h->c);
	curl_slist_free_all(h->resolve);
	memset(h, 0, sizeof *h);
}

bool https_url_parts(const char *url, char *host, size_t hostlen, unsigned *port)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *h = NULL, *p = NULL;
	bool ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		  curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
		  !strcmp(scheme, "https") &&
		  curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK &&
		  curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) == CURLUE_OK;
	if (ok) {
		size_t n = strlen(h);
		bool br = n > 2 && h[0] == '[' && h[n - 1] == ']';	/* an IPv6 literal */
		ok = snprintf(host, hostlen, "%.*s", (int)(br ? n - 2 : n), br ? h + 1 : h) <
		     (int)hostlen;
		*port = (unsigned)strtoul(p, NULL, 10);
	}
	curl_free(scheme);
	curl_free(h);
	curl_free(p);
	curl_url_cleanup(u);
	return ok;
}

bool https_resolve(const char *host, char addr[64])
{
	unsigned char b[16];
	if (inet_pton(AF_INET, host, b) == 1 || inet_pton(AF_INET6, host, b) == 1) {
		snprintf(addr, 64, "%s", host);
		return true;
	}
	char addrs[1][64];
	size_t n = 0;
	if ((dns_a(host, addrs, 1, &n) != DNS_OK || !n) &&
	    (dns_aaaa(host, addrs, 1, &n) != DNS_OK || !n))
		return false;
	snprintf(addr, 64, "%s", addrs[0]);
	return true;
}

char *https_read_ca(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	struct strbuf b = { 0 };
	size_t r;
	do {
		char *room = strbuf_room(&b, 65536);
		r = fread(room, 1, b.cap - 1 - b.len, f);
		strbuf_commit(&b, r);
	} while (r > 0 && b.len < 16 * 1024 * 1024);
	fclose(f);
	*len = b.len;
	return strbuf_take(&b);
}
