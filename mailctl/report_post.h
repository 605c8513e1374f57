/* report_post.h — reports for https: rua URIs (RFC 8460 3): the report is
 * the body of a POST, kept in the run's outbox like a mail (dmarc_outbox.h)
 * until a 2xx answer; a failed post is tried again by the next run, and
 * given up (said in the log) when it still fails REPORT_POST_RETRY_SECS after
 * the run that made it. The HTTPS request is common/https.h's: the receiver's
 * certificate is checked against deliverd.conf smtp_tls_ca_file (the CAs the
 * suite trusts for other mail servers), its address found through common/dns. */
#ifndef TERN_MAILCTL_REPORT_POST_H
#define TERN_MAILCTL_REPORT_POST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RFC 8460 5.4: redelivery SHOULD be attempted for up to 24 hours. */
#define REPORT_POST_RETRY_SECS (24 * 3600)
#define REPORT_POST_TIMEOUT 30	/* seconds for one POST */

struct report_run;

/* The report body (of media type ctype) for url into the run's outbox, or
 * only said in a dry run. */
void report_post_add(struct report_run *r, const char *domain, const char *url, const char *ctype,
		     const unsigned char *body, size_t len);
/* The outbox's post function (outbox_post_fn); arg is the report_run. */
bool report_post_send(void *arg, const char *url, const char *ctype, const char *domain,
		      const unsigned char *body, size_t len, uint64_t age);
/* What the posts of a run held (the CA bundle). */
void report_post_end(struct report_run *r);

#endif
