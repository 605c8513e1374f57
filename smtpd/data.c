/* data.c — DATA/BDAT body state machine (see data.h). */
#include "smtpd/data.h"

#include <string.h>

enum { S_BOL, S_MID, S_CR, S_DOT, S_DOT_CR };

void data_init(struct data_sm *d, bool dotted, size_t max_line, uint64_t max_size)
{
	memset(d, 0, sizeof *d);
	d->dotted = dotted;
	d->st = S_BOL;
	d->bol_crlf = true;	/* the body begins right after the DATA command's CRLF */
	d->max_line = max_line;
	d->max_size = max_size;
}

static void out(struct data_sm *d, const char *p, size_t n, data_emit_fn emit, void *arg)
{
	if (d->size + n > d->max_size)
		d->errors |= DE_TOO_BIG;
	d->size += n;
	if (!d->errors && n)
		emit(arg, p, n);
}

static void text(struct data_sm *d, size_t n)
{
	d->line_len += n;
	if (d->line_len > d->max_line)
		d->errors |= DE_LONG_LINE;
}

static void end_line(struct data_sm *d, bool crlf)
{
	d->st = S_BOL;
	d->bol_crlf = crlf;
	d->line_len = 0;
}

/* Ordinary line bytes up to the next CR or LF; returns how many. */
static size_t span(struct data_sm *d, const char *p, size_t n, data_emit_fn emit, void *arg)
{
	size_t k = 0;
	unsigned char hi = 0;
	while (k < n && p[k] != '\r' && p[k] != '\n')
		hi |= (unsigned char)p[k++];
	if (hi & 0x80)
		d->eight_bit = true;
	text(d, k);
	out(d, p, k, emit, arg);
	return k;
}

size_t data_feed(struct data_sm *d, const char *p, size_t n, data_emit_fn emit, void *arg)
{
	size_t i = 0;
	while (i < n && !d->done) {
		char c = p[i];
		switch (d->st) {
		case S_BOL:
			if (c == '.' && d->dotted) {
				d->st = S_DOT;
				i++;
				continue;
			}
			d->st = S_MID;
			continue;
		case S_DOT:
			if (c == '\r') {
				d->st = S_DOT_CR;
				i++;
				continue;
			}
			/* A stuffed line: the leading dot is dropped (RFC 5321 4.5.2). */
			d->st = S_MID;
			continue;
		case S_DOT_CR:
			if (c == '\n' && d->bol_crlf) {
				d->done = true;
				i++;
				continue;
			}
			/* "." CR not followed by LF, or the dot line followed a bare LF:
			 * not the end. The dot (and its CR) are ordinary content. */
			if (c == '\n') {
				i++;
				out(d, ".\r\n", 3, emit, arg);
				end_line(d, true);
				continue;
			}
			d->errors |= DE_BARE_CR;
			text(d, 2);
			out(d, ".\r", 2, emit, arg);
			d->st = S_MID;
			continue;
		case S_MID:
			if (c == '\r') {
				d->st = S_CR;
				i++;
			} else if (c == '\n') {
				d->errors |= DE_BARE_LF;
				out(d, "\n", 1, emit, arg);
				end_line(d, false);
				i++;
			} else {
				i += span(d, p + i, n - i, emit, arg);
			}
			continue;
		case S_CR:
			if (c == '\n') {
				out(d, "\r\n", 2, emit, arg);
				end_line(d, true);
				i++;
				continue;
			}
			d->errors |= DE_BARE_CR;
			text(d, 1);
			out(d, "\r", 1, emit, arg);
			d->st = S_MID;
			continue;
		}
	}
	return i;
}

void data_finish(struct data_sm *d, data_emit_fn emit, void *arg)
{
	if (d->st == S_CR) {
		d->errors |= DE_BARE_CR;
	} else if (d->st != S_BOL) {
		out(d, "\r\n", 2, emit, arg);
	}
	end_line(d, true);
	d->done = true;
}
