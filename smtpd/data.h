/* data.h — the message body state machine for DATA and BDAT (RFC 5321 4.1.1.4,
 * 4.5.2; RFC 3030). Pure: bytes in, unstuffed bytes out through a callback.
 *
 * DATA ends at CRLF "." CRLF and nothing else. A bare CR or bare LF anywhere is
 * recorded as an error (the message is then refused whole: SMTP smuggling
 * defence), as is a line over the limit and a message over the size limit; the
 * machine keeps consuming up to the real end so the session stays in sync. */
#ifndef TERN_SMTPD_DATA_H
#define TERN_SMTPD_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum data_error {
	DE_BARE_LF = 1 << 0,
	DE_BARE_CR = 1 << 1,
	DE_LONG_LINE = 1 << 2,
	DE_TOO_BIG = 1 << 3,
};

struct data_sm {
	bool dotted;		/* DATA (dot-stuffed, ends with CRLF.CRLF) vs BDAT */
	int st;
	bool bol_crlf;		/* the current line began after a CRLF (or at the start) */
	size_t line_len;	/* bytes of the current line so far */
	size_t max_line;	/* longest line without its CRLF (998) */
	uint64_t size;		/* bytes emitted (or that would have been) */
	uint64_t max_size;
	unsigned errors;	/* DE_* */
	bool eight_bit;		/* a byte >= 0x80 was seen */
	bool done;		/* DATA: terminator consumed */
};

typedef void (*data_emit_fn)(void *arg, const char *p, size_t n);

void data_init(struct data_sm *d, bool dotted, size_t max_line, uint64_t max_size);
/* Feed n bytes; returns how many were consumed. DATA stops right after the
 * terminating CRLF.CRLF (d->done); BDAT consumes everything. Bytes are emitted
 * only while no error has been recorded. */
size_t data_feed(struct data_sm *d, const char *p, size_t n, data_emit_fn emit, void *arg);
/* BDAT LAST: a trailing CR is a bare CR; an unterminated last line gets CRLF. */
void data_finish(struct data_sm *d, data_emit_fn emit, void *arg);

#endif
