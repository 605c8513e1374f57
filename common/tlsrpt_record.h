/* tlsrpt_record.h — one outbound TLS session outcome as kept for TLS
 * reports (RFC 8460). The remote delivery agent sends it to queued
 * (QUEUE_TLSRPT_RECORD, queue_proto.h) for each new SMTP session it opens to
 * an MX host; queued appends it as one line to SPOOL/tlsrpt/records;
 * `mailctl tlsrpt report` reads the lines back, aggregates them per policy
 * and mails each policy domain that publishes a _smtp._tls record its daily
 * report.
 *
 * Line format (common/recline.h): "T1", time, policy_domain, policy_type,
 * policy_string, mx_host, receiving_mx, receiving_ip, sending_ip, result_type,
 * additional_info. Every field is checked on the way in, from the agent and
 * from the file alike. */
#ifndef TERN_TLSRPT_RECORD_H
#define TERN_TLSRPT_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLSRPT_LOG_DIR "tlsrpt"
#define TLSRPT_LOG_NAME "records"
#define TLSRPT_REC_LINE_MAX 16384
#define TLSRPT_POLICY_MAX 2048	/* policy_string, lines joined by "\n" */

/* RFC 8460 4.3 policy-type */
enum tlsrpt_policy { TLSRPT_NONE, TLSRPT_STS, TLSRPT_TLSA };

struct tlsrpt_record {
	uint64_t time;			/* unix seconds */
	char policy_domain[256];	/* the recipient domain */
	enum tlsrpt_policy type;
	char policy_string[TLSRPT_POLICY_MAX];	/* the policy's lines, "\n"-separated ("" for none) */
	char mx_host[512];		/* sts: the policy's mx patterns, comma-separated */
	char receiving_mx[256];
	char receiving_ip[64];
	char sending_ip[64];		/* "" when unknown */
	char result[40];		/* "" for a successful session, else an RFC 8460 4.3 result-type */
	char info[256];			/* additional-information, "" if none */
};

/* "no-policy-found", "sts", "tlsa" */
const char *tlsrpt_policy_name(enum tlsrpt_policy t);

/* True if every field is within bounds, the names are host names, the
 * addresses addresses and the result one RFC 8460 4.3 names (or ""). */
bool tlsrpt_record_valid(const struct tlsrpt_record *r);

struct ipc_msg;
void tlsrpt_record_put(struct ipc_msg *m, const struct tlsrpt_record *r);
/* false if the message is malformed; check the contents with tlsrpt_record_valid */
bool tlsrpt_record_get(struct ipc_msg *m, struct tlsrpt_record *r);

/* One line with its "\n"; malloc'd. NULL if r is invalid or too long. */
char *tlsrpt_record_format(const struct tlsrpt_record *r);
/* Parse one line (with or without its "\n"); false if it is malformed. */
bool tlsrpt_record_parse(const char *line, struct tlsrpt_record *r);

#endif
