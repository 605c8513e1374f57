/* sts_fetch.c — one HTTPS fetch of an MTA-STS policy (RFC 8461 3.3) with
 * libcurl: HTTPS only, the certificate checked against the CA bundle for the
 * name mta-sts.DOMAIN, no redirects, a time limit, at most STS_POLICY_MAX
 * bytes, status 200 and text/plain, or no policy. */
#include "deliverd/sts.h"
#include "common/util.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct body {
	char *p;
	size_t n;
	bool too_long;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb;
	if (b->n + n > STS_POLICY_MAX) {
		b->too_long = true;
		return 0;	/* aborts the transfer */
	}
	b->p = xrealloc(b->p, b->n + n + 1);
	memcpy(b->p + b->n, data, n);
	b->n += n;
	return n;
}

static bool check_reply(CURL *c, CURLcode rc, const struct body *b, char *why, size_t whylen)
{
	long status = 0;
	char *ctype = NULL;
	if (rc != CURLE_OK) {
		snprintf(why, whylen, "%s", b->too_long ? "policy too long" : curl_easy_strerror(rc));
		return false;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ctype);
	if (status != 200) {
		snprintf(why, whylen, "HTTP status %ld", status);	/* redirects included (3.3) */
		return false;
	}
	if (!ctype || strncasecmp(ctype, "text/plain", 10)) {
		snprintf(why, whylen, "media type %.60s, not text/plain", ctype ? ctype : "(none)");
		return false;
	}
	return true;
}

bool sts_fetch(const char *domain, const char *addr, unsigned port, const char *ca, size_t calen,
	       int timeout_sec, struct sts_policy *p, char *why, size_t whylen)
{
	CURL *c = curl_easy_init();
	if (!c) {
		snprintf(why, whylen, "libcurl: no handle");
		return false;
	}
	char *url = xasprintf("https://mta-sts.%s:%u/.well-known/mta-sts.txt", domain, port);
	char *pin = xasprintf("mta-sts.%s:%u:%s%s%s", domain, port, strchr(addr, ':') ? "[" : "",
			      addr, strchr(addr, ':') ? "]" : "");
	struct curl_slist *resolve = curl_slist_append(NULL, pin);
	struct curl_blob cab = { (void *)ca, calen, CURL_BLOB_NOCOPY };
	struct body b = { 0 };
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_RESOLVE, resolve);	/* the address common/dns found */
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &cab);
	curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)timeout_sec);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "tern-mta-sts");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	CURLcode rc = curl_easy_perform(c);
	bool ok = check_reply(c, rc, &b, why, whylen) &&
		  sts_policy_parse(b.p ? b.p : "", b.n, p, why, whylen);
	curl_easy_cleanup(c);
	curl_slist_free_all(resolve);
	free(b.p);
	free(url);
	free(pin);
	return ok;
}
