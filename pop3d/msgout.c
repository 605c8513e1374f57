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

/* A run of bytes without LF: copied as is, after a stuffing dot when it
 * starts a line with ".". */
static size_t put_run(struct msgout *w, const char *p, size_t k, char *out)
{
	size_t o = 0;
	if (w->bol && p[0] == '.')
		out[o++] = '.';
	memcpy(out + o, p, k);
	o += k;
	/* A line is blank when it holds nothing but one CR before its LF. */
	if (k > 1 || p[0] != '\r' || w->prev_cr)
		w->line_empty = false;
	w->prev_cr = p[k - 1] == '\r';
	w->bol = false;
	return o;
}

size_t msgout_feed(struct msgout *w, const char *in, size_t n, char *out)
{
	size_t o = 0, i = 0;
	while (i < n && !w->done) {
		const char *lf = memchr(in + i, '\n', n - i);
		size_t k = lf ? (size_t)(lf - (in + i)) : n - i;
		if (k)
			o += put_run(w, in + i, k, out + o);
		i += k;
		if (!lf)
			break;
		if (!w->prev_cr)
			out[o++] = '\r';
		out[o++] = '\n';
		w->prev_cr = false;
		i++;
		end_line(w);
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
	if (!n)
		return;
	const char *p = in, *e = in + n, *lf;
	while ((lf = memchr(p, '\n', (size_t)(e - p)))) {
		bool cr = lf > in ? lf[-1] == '\r' : s->prev_cr;
		s->size += !cr;
		p = lf + 1;
	}
	s->size += n;
	s->prev_cr = in[n - 1] == '\r';
	s->ends_lf = in[n - 1] == '\n';
	s->any = true;
}

uint64_t msgsize_end(struct msgsize *s)
{
	return s->size + (s->any && !s->ends_lf ? 2 : 0);
}
