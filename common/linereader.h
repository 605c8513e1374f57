/* linereader.h — bounded line reading from a libevent evbuffer or a plain fd.
 *
 * A line longer than the limit is an error (LINE_TOOLONG), never a silent
 * truncation; the caller decides the protocol reply and skips to the next LF
 * with line_skip(). Line endings are reported exactly (CRLF, bare LF) and a bare
 * CR inside the line is flagged, so SMTP can refuse smuggling attempts. */
#ifndef TERN_LINEREADER_H
#define TERN_LINEREADER_H

#include <stdbool.h>
#include <stddef.h>

struct evbuffer;

enum line_status { LINE_OK, LINE_MORE, LINE_TOOLONG };

struct line {
	char *text;		/* malloc'd, NUL-terminated, without the line ending */
	size_t len;		/* bytes in text (text may contain NUL bytes) */
	bool crlf;		/* ended in CRLF (false: bare LF) */
	bool bare_cr;		/* a CR not followed by LF occurs inside the line */
	bool has_nul;		/* a NUL byte occurs inside the line */
};

/* Take one line of at most max bytes (including the ending) out of buf. On
 * LINE_TOOLONG nothing is removed; call line_skip to discard through the next LF. */
enum line_status line_read(struct evbuffer *buf, size_t max, struct line *out);
/* Discard bytes up to and including the next LF; true if an LF was found (else
 * everything buffered was discarded and the caller must keep skipping). */
bool line_skip(struct evbuffer *buf);
void line_free(struct line *l);

/* Back-pressure for command protocols: a client that pipelines cheap commands
 * and never reads its replies must not make us queue replies without end. A
 * server stops taking commands out of its input while more than
 * LINE_OUTPUT_MAX bytes of replies wait (its input buffer then fills to its
 * read watermark and the kernel stops the client), and takes them again from
 * its write callback once the output is below it. */
#define LINE_OUTPUT_MAX (16 * 1024)
bool line_output_full(struct evbuffer *output);

/* Blocking reader over an fd, for command-line tools. */
struct fdreader {
	int fd;
	char buf[8192];
	size_t start, end;
	bool eof;
};
void fdreader_init(struct fdreader *r, int fd);
/* Read a line of at most max bytes. Returns LINE_OK, LINE_TOOLONG (the rest of
 * the line is consumed), or LINE_MORE at EOF with nothing left (a final line
 * without LF is returned as LINE_OK with crlf=false). -1 on read error. */
int fdreader_line(struct fdreader *r, size_t max, struct line *out);

#endif
