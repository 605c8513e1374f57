/* fuzz_queued.c — libFuzzer target for what queued reads back from disk and
 * builds from it: index records and spool-file trailers (qrec_decode,
 * qtrailer_parse), and DSNs made from any decodable record with the input as
 * the original message (dsn_build, dsn_header_len).
 *
 * Invariants checked: a decoded record re-encodes to the same bytes (older
 * versions: to a current record that is then stable); a trailer
 * made from it parses back to the same size and id; a DSN is NUL-free in the
 * parts we write, has no bare LF outside the quoted original, and ends with
 * the closing boundary. Run: make fuzz (long) or make fuzz-smoke (make check). */
#include "queued/dsn.h"
#include "tests/fuzz/fuzz_ipc.h"
#include "queued/qrec.h"
#include "common/dmarc_record.h"
#include "common/tlsrpt_record.h"
#include "common/ipc.h"
#include "common/util.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_dsn(const struct qmsg *m, const uint8_t *data, size_t size)
{
	if (!m->nrcpt)
		return;
	uint32_t idx[4];
	uint32_t n = 0;
	for (uint32_t i = 0; i < m->nrcpt && n < 4; i++)
		idx[n++] = i;
	for (int kind = 0; kind < 2; kind++) {
		struct dsn_input in = { .m = m, .hostname = "mx.example.test", .kind = kind,
					.rcpts = idx, .nrcpt = n, .original = (const char *)data,
					.original_len = size, .full = kind == 0, .now = 1700000000 };
		size_t len;
		char *d = dsn_build(&in, &len);
		/* the part we write ourselves: everything before the quoted original */
		const char *q = strstr(d, kind == 0 ? "Content-Type: message/rfc822\r\n"
						    : "Content-Type: text/rfc822-headers\r\n");
		if (!q)
			abort();
		for (const char *p = d; p < q; p++)
			if (*p == '\n' && (p == d || p[-1] != '\r'))
				abort();
		if (len < 4 || memcmp(d + len - 4, "--\r\n", 4))
			abort();
		free(d);
	}
}

/* DMARC report records, as a log line and as a QUEUE_DMARC_RECORD payload: a
 * parsed line formats to a line that parses to the same line again; whatever
 * the IPC reader accepts and the checks pass can be written. */
static void check_dmarc_record(const uint8_t *data, size_t size)
{
	char *line = xstrndup((const char *)data, size);
	struct dmarc_record r, r2;
	if (dmarc_record_parse(line, &r)) {
		char *a = dmarc_record_format(&r);
		if (!a || !dmarc_record_parse(a, &r2))
			abort();
		char *b = dmarc_record_format(&r2);
		if (!b || strcmp(a, b))
			abort();
		free(a);
		free(b);
	}
	free(line);
	/* the input as the payload of a frame */
	struct ipc_msg d;
	if (fuzz_ipc_payload(data, size, &d)) {
		if (dmarc_record_get(&d, &r) && dmarc_record_valid(&r)) {
			char *a = dmarc_record_format(&r);
			if (a && !dmarc_record_parse(a, &r2))
				abort();
			free(a);
		}
		ipc_msg_free(&d);
	}
}

/* TLS report records (QUEUE_TLSRPT_RECORD lines): a parsed line formats to a
 * line that parses to the same record and line again. */
static void check_tlsrpt_record(const uint8_t *data, size_t size)
{
	char *line = xstrndup((const char *)data, size);
	struct tlsrpt_record r, r2;
	if (tlsrpt_record_parse(line, &r)) {
		char *a = tlsrpt_record_format(&r);
		if (!a || !tlsrpt_record_parse(a, &r2))
			abort();
		char *b = tlsrpt_record_format(&r2);
		if (!b || strcmp(a, b))
			abort();
		free(a);
		free(b);
	}
	free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_dmarc_record(data, size);
	check_tlsrpt_record(data, size);
	struct qmsg m;
	if (qrec_decode(data, size, &m) == 0) {
		/* A current-version record re-encodes to itself; an older one to a
		 * current one that is then stable. */
		size_t n, n2;
		unsigned char *again = qrec_encode(&m, &n);
		bool current = size >= 9 && data[8] == QREC_VERSION;
		if (current && (n != size || memcmp(again, data, n)))
			abort();
		struct qmsg m2;
		if (qrec_decode(again, n, &m2) != 0)
			abort();
		unsigned char *third = qrec_encode(&m2, &n2);
		if (n2 != n || memcmp(third, again, n))
			abort();
		free(third);
		qmsg_free(&m2);
		free(again);
		size_t tl;
		unsigned char *t = qtrailer_make(&m, &tl);
		struct qmsg back;
		/* A file of m.size message bytes and the trailer: only where that
		 * length exists (a decoded size near UINT64_MAX would wrap, which is
		 * this harness's arithmetic, not queued's). */
		if (m.size <= UINT64_MAX - tl &&
		    (qtrailer_parse(t, tl, m.size + tl, &back) != 0 || back.size != m.size ||
		     strcmp(back.id, m.id)))
			abort();
		if (m.size <= UINT64_MAX - tl)
			qmsg_free(&back);
		free(t);
		check_dsn(&m, data, size);
		qmsg_free(&m);
	}
	if (qtrailer_parse(data, size, size + (size & 7), &m) == 0)
		qmsg_free(&m);
	(void)dsn_header_len((const char *)data, size);
	return 0;
}
