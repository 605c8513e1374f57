/* dmarc_record.h — one DMARC evaluation as kept for aggregate reports
 * (RFC 7489 7.2). smtpd sends it to queued (QUEUE_DMARC_RECORD, queue_proto.h);
 * queued appends it as one line to SPOOL/dmarc/records; `mailctl dmarc report`
 * reads the lines back and aggregates them.
 *
 * Line format: "D1" and then tab-separated fields, each %XX-escaped outside
 * [A-Za-z0-9.-_@+=!:/,;] (so no tab, newline or NUL ever appears inside a
 * field): time, ip, header_from, policy_domain, p, sp, pct, adkim, aspf, fo,
 * disposition, dkim_aligned, spf_aligned, reason, envelope_from, envelope_to,
 * spf_domain, spf_scope, spf_result, ndkim, then ndkim times (domain,
 * selector, result), then rua. Every field is checked on the way in, from
 * smtpd and from the file alike. */
#ifndef TERN_DMARC_RECORD_H
#define TERN_DMARC_RECORD_H

#include "common/dmarc.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* SPOOL/dmarc/records: queued appends under an exclusive flock of the file
 * and, holding it, checks that the path still names the file it has open.
 * mailctl takes the same lock and renames the file away (rotation), so no
 * record lands in a file that has been rotated. */
#define DMARC_LOG_DIR "dmarc"
#define DMARC_LOG_NAME "records"

#define DMARC_REC_MAX_DKIM 8
#define DMARC_REC_LINE_MAX 16384	/* longest line written or read */

struct ipc_msg;

struct dmarc_rec_dkim {
	char domain[256];
	char selector[64];
	char result[16];	/* RFC 7489 DKIMResultType */
};

struct dmarc_record {
	uint64_t time;			/* unix seconds */
	char ip[64];			/* source address */
	char header_from[256];		/* RFC5322.From domain */
	char policy_domain[256];	/* where the DMARC record was found */
	enum dmarc_policy p, sp;
	unsigned pct;
	char adkim, aspf;		/* 'r' or 's' */
	char fo[16];
	enum dmarc_policy disposition;	/* what we applied */
	bool dkim_aligned, spf_aligned;	/* DMARC-aligned pass */
	char reason[24];		/* "" or an RFC 7489 PolicyOverrideType */
	char env_from[256], env_to[256];	/* domains; env_from "" for <> */
	char spf_domain[256];
	bool spf_helo;			/* scope helo (else mfrom) */
	char spf_result[16];		/* RFC 7489 SPFResultType */
	int ndkim;
	struct dmarc_rec_dkim dkim[DMARC_REC_MAX_DKIM];
	char rua[512];			/* the record's rua URIs, comma-separated */
};

/* True if every field is within bounds and each enumerated value is one the
 * report schema allows. */
bool dmarc_record_valid(const struct dmarc_record *r);

/* IPC (QUEUE_DMARC_RECORD payload). get: false if the message is malformed;
 * check the contents with dmarc_record_valid. */
void dmarc_record_put(struct ipc_msg *m, const struct dmarc_record *r);
bool dmarc_record_get(struct ipc_msg *m, struct dmarc_record *r);

/* One line with its "\n"; malloc'd. NULL if r is invalid or too long. */
char *dmarc_record_format(const struct dmarc_record *r);
/* Parse one line (with or without its "\n"); false if it is malformed. */
bool dmarc_record_parse(const char *line, struct dmarc_record *r);

#endif
