/* sts_fetch.c — one HTTPS fetch of an MTA-STS policy (RFC 8461 3.3) with
 * libcurl, set up as every HTTPS request of the suite (common/https.h): the
 * certificate checked for the name mta-sts.DOMAIN; at most STS_POLICY_MAX
 * bytes, status 200 and text/plain, or no policy. */
#include "deliverd/sts.h"
#include "common/https.h"
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
	char *host = xasprintf("mta-sts.%s", domain);
	char *url = xasprintf("https://%s:%u/.well-known/mta-sts.txt", host, port);
	struct https_req req = { .url = url, .host = host, .port = port, .addr = addr, .ca = ca,
				 .calen = calen, .timeout_sec = timeout_sec, .agent = "tern-mta-sts" };
	struct https_handle h;
	struct body b = { 0 };
	bool ok = false;
	if (!https_begin(&h, &req)) {
		snprintf(why, whylen, "libcurl: no handle");
	} else {
		curl_easy_setopt(h.c, CURLOPT_WRITEFUNCTION, on_data);
		curl_easy_setopt(h.c, CURLOPT_WRITEDATA, &b);
		CURLcode rc = curl_easy_perform(h.c);
		ok = check_reply(h.c, rc, &b, why, whylen) &&
		     sts_policy_parse(b.p ? b.p : "", b.n, p, why, whylen);
	}
	https_done(&h);
	free(b.p);
	free(url);
	free(host);
	return ok;
}
