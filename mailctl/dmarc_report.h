/* dmarc_report.h — DMARC aggregate reports (RFC 7489 7.2) from the records
 * queued kept (common/dmarc_record.h): aggregation per policy domain and per
 * row (source IP, disposition, aligned results, reason, identifiers, auth
 * results) with counts, the appendix C XML, gzip, the 7.2.1.1 file name, the
 * report mail, rua mailto: URIs. Pure functions; cmd_dmarc.c does the files,
 * DNS and the queue. */
#ifndef TERN_MAILCTL_DMARC_REPORT_H
#define TERN_MAILCTL_DMARC_REPORT_H

#include "common/dmarc_record.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Rows kept in one run (about 800 bytes of XML each); records of further rows
 * are counted as dropped and logged. */
#define DMARC_AGG_MAX_ROWS 100000

struct dmarc_row {
	struct dmarc_record rec;	/* the row's fields (time and policy of its first record) */
	uint64_t count;
};

struct dmarc_report {
	char domain[256];
	uint64_t begin, end;		/* times of the first and last record */
	struct dmarc_record latest;	/* newest record: the policy published now, rua */
	struct dmarc_row *rows;
	size_t nrows, cap;
	uint64_t messages;
};

struct agg_slot;
struct dmarc_agg {
	struct dmarc_report *reps;
	size_t nreps, cap;
	struct agg_slot *slots;
	size_t nslots, used, rows;
	uint64_t dropped;
};

void dmarc_agg_init(struct dmarc_agg *a);
/* Count one (valid) record. */
void dmarc_agg_add(struct dmarc_agg *a, const struct dmarc_record *r);
void dmarc_agg_free(struct dmarc_agg *a);

struct dmarc_meta {
	const char *org_name;		/* our host name */
	const char *email;		/* the report sender */
	const char *report_id;
	uint64_t begin, end;
};

/* The RFC 7489 appendix C document; malloc'd, *len its size. */
char *dmarc_report_xml(const struct dmarc_report *rep, const struct dmarc_meta *meta, size_t *len);
/* gzip (RFC 1952) of data; 0, or -1. */
int dmarc_gzip(const char *data, size_t len, unsigned char **out, size_t *outlen);
/* receiver!policy-domain!begin!end!unique.xml.gz (RFC 7489 7.2.1.1); malloc'd. */
char *dmarc_report_filename(const char *receiver, const char *domain, uint64_t begin,
			    uint64_t end, const char *unique);

struct dmarc_mail {
	const char *from, *to, *domain, *submitter, *report_id, *filename;
	const unsigned char *gz;
	size_t gzlen;
	time_t date;
	/* TLS reports (RFC 8460 5.3) use the same mail with these set; NULL for DMARC */
	const char *report_type;	/* multipart/report; report-type=... */
	const char *media_type;		/* of the attachment (application/gzip) */
	const char *extra_headers;	/* CRLF-terminated header fields */
	const char *what;		/* the text part: "a DMARC aggregate report (RFC 7489)" */
};
/* The report message (RFC 7489 7.2.1.1, RFC 8460 5.3), CRLF lines; malloc'd. */
char *dmarc_report_mail(const struct dmarc_mail *m);

/* "mailto:addr[!size[kmgt]]" -> addr and the size limit in bytes (0 = none).
 * False for other schemes or an address we would not submit to. */
bool dmarc_rua_parse(const char *uri, char *addr, size_t len, uint64_t *limit);

#endif
