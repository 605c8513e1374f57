/* report_post.c — posting reports to https: rua URIs (report_post.h). */
#include "mailctl/report_post.h"
#include "mailctl/commands.h"
#include "mailctl/report_run.h"
#include "deliverd/deliverd.h"
#include "common/https.h"
#include "common/instance.h"
#include "common/log.h"
#include "common/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void report_post_add(struct report_run *r, const char *domain, const char *url, const char *ctype,
		     const unsigned char *body, size_t len)
{
	if (r->o->dry_run) {
		report_say(r, "rua domain=%s uri=%s status=dry-run", domain, url);
	} else if (!r->outbox_failed && outbox_add_post(&r->ob, url, ctype, domain, body, len) < 0) {
		cmd_error("%s: cannot write the outbox: %s", r->k->name, strerror(errno));
		r->outbox_failed = true;
	}
}

/* The CA bundle, read once per run: deliverd.conf smtp_tls_ca_file. */
static bool load_ca(struct report_run *r, char *why, size_t whylen)
{
	if (r->ca)
		return true;
	struct cfg c;
	struct cfg_errors errs = { 0 };
	char *path = instance_conf(r->in, "deliverd", deliverd_settings, &c, &errs) == 0
		     ? cfg_path(&c, "smtp_tls_ca_file") : NULL;
	cfg_free(&c);
	if (!path) {
		snprintf(why, whylen, "deliverd.conf does not load");
		return false;
	}
	r->ca = https_read_ca(path, &r->calen);
	if (!r->ca)
		snprintf(why, whylen, "cannot read the CA bundle %s: %s", path, strerror(errno));
	free(path);
	return r->ca != NULL;
}

static size_t discard(char *data, size_t size, size_t nmemb, void *arg)
{
	return size * nmemb;	/* the receiver's answer is not read, only its status */
}

/* One POST; true on a 2xx answer, else why says what happened. */
static bool post(struct report_run *r, const char *url, const char *ctype,
		 const unsigned char *body, size_t len, char *why, size_t whylen)
{
	char host[256], addr[64];
	unsigned port;
	if (!https_url_parts(url, host, sizeof host, &port) || !https_resolve(host, addr)) {
		snprintf(why, whylen, "no address for the URI's host");
		return false;
	}
	if (!load_ca(r, why, whylen))
		return false;
	struct https_req req = { .url = url, .host = host, .port = port, .addr = addr, .ca = r->ca,
				 .calen = r->calen, .timeout_sec = REPORT_POST_TIMEOUT,
				 .agent = "tern-tlsrpt" };
	struct https_handle h;
	if (!https_begin(&h, &req)) {
		snprintf(why, whylen, "libcurl: no handle");
		return false;
	}
	char *type = xasprintf("Content-Type: %s", ctype);
	struct curl_slist *hdrs = curl_slist_append(NULL, type);
	hdrs = curl_slist_append(hdrs, "Expect:");	/* the whole body at once */
	curl_easy_setopt(h.c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h.c, CURLOPT_POST, 1L);
	curl_easy_setopt(h.c, CURLOPT_POSTFIELDS, (const char *)body);
	curl_easy_setopt(h.c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(h.c, CURLOPT_WRITEFUNCTION, discard);
	CURLcode rc = curl_easy_perform(h.c);
	long status = 0;
	curl_easy_getinfo(h.c, CURLINFO_RESPONSE_CODE, &status);
	if (rc != CURLE_OK)
		snprintf(why, whylen, "%s", curl_easy_strerror(rc));
	else if (status < 200 || status > 299)
		snprintf(why, whylen, "HTTP status %ld", status);
	https_done(&h);
	curl_slist_free_all(hdrs);
	free(type);
	return rc == CURLE_OK && status >= 200 && status <= 299;
}

bool report_post_send(void *arg, const char *url, const char *ctype, const char *domain,
		      const unsigned char *body, size_t len, uint64_t age)
{
	struct report_run *r = arg;
	char why[300];
	if (post(r, url, ctype, body, len, why, sizeof why)) {
		report_say(r, "rua domain=%s uri=%s status=posted", domain, url);
		return true;
	}
	if (age >= REPORT_POST_RETRY_SECS) {
		report_say(r, "rua domain=%s uri=%s status=dropped reason=\"%s; not posted within "
			   "%d hours of the report\"", domain, url, why, REPORT_POST_RETRY_SECS / 3600);
		return true;
	}
	report_say(r, "rua domain=%s uri=%s status=deferred reason=\"%s\"", domain, url, why);
	r->post_waiting = true;
	return false;
}

void report_post_end(struct report_run *r)
{
	free(r->ca);
	r->ca = NULL;
}
