/* msgout.c — LF to CRLF conversion, dot-stuffing and the TOP cut-off. */
#include "pop3d/msgout.h"

#include <string.h>

void msgout_init(struct msgout *w, long body_lines)
{
	memset(w, 0, sizeof *w);
	w->bol = true;
	w->line_empty = true;
	w->body_left = body_lines;
	/* TOP n with n = 0 still sends the header and the blank line. */
}

/* A line ended: track the header/body boundary and the TOP count. */
static void end_line(struct msgout *w)
{
	if (!w->in_body) {
		if (w->line_empty) {
			w->in_body = true;
			if (w->body_left == 0)
				w->done = true;
		}
	} else if (w->body_left > 0 && --w->body_left == 0) {
		w->done = true;
	}
	w->bol = true;
	w->line_empty = true;
}

size_t msgout_feed(struct msgout *w, const char *in, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n && !w->done; i++) {
		char c = in[i];
		if (c == '\n') {
			if (!w->prev_cr)
				out[o++] = '\r';
			out[o++] = '\n';
			w->prev_cr = false;
			end_line(w);
			continue;
		}
		if (w->bol && c == '.')
			out[o++] = '.';
		out[o++] = c;
		if (c != '\r' || w->prev_cr)
			w->line_empty = false;	/* only "\r\n" or "\n" is a blank line */
		w->prev_cr = c == '\r';
		w->bol = false;
	}
	return o;
}

size_t msgout_finish(struct msgout *w, char *out)
{
	size_t o = 0;
	if (!w->bol && !w->done) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}

void msgsize_feed(struct msgsize *s, const char *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\n' && !s->prev_cr)
			s->size++;
		s->prev_cr = in[i] == '\r';
	}
	if (n) {
		s->size += n;
		s->ends_lf = in[n - 1] == '\n';
		s->any = true;
	}
}

uint64_t msgsize_end(struct msgsize *s)
{
	return s->size + (s->any && !s->ends_lf ? 2 : 0);
}
