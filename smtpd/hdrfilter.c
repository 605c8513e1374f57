/* hdrfilter.c — drop chosen header fields while streaming. */
#include "smtpd/hdrfilter.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

void hdrfilter_init(struct hdrfilter *f, hdrfilter_out out, hdrfilter_drop drop, void *arg)
{
	memset(f, 0, sizeof *f);
	f->out = out;
	f->drop = drop;
	f->arg = arg;
	f->at_bol = true;
	f->field = xmalloc(HDRFILTER_FIELD_MAX);
}

/* The held field is complete: emit it unless the predicate drops it. */
static void finish_field(struct hdrfilter *f)
{
	if (f->len && !f->overflow && f->drop(f->arg, f->field, f->len, true))
		f->dropped++;
	else if (f->len)
		f->out(f->arg, f->field, f->len);
	f->len = 0;
	f->overflow = f->discard = false;
}

static void hold(struct hdrfilter *f, char c)
{
	if (f->discard)
		return;
	if (f->overflow) {
		f->out(f->arg, &c, 1);
		return;
	}
	if (f->len == HDRFILTER_FIELD_MAX) {
		/* Too long to hold: judged by its beginning (a forger folding
		 * 64 kB of comments before our name is dropped too), then the
		 * rest follows that verdict as it comes. */
		if (f->drop(f->arg, f->field, f->len, false)) {
			f->dropped++;
			f->discard = true;
		} else {
			f->out(f->arg, f->field, f->len);
			f->overflow = true;
			f->out(f->arg, &c, 1);
		}
		f->len = 0;
		return;
	}
	f->field[f->len++] = c;
}

void hdrfilter_feed(struct hdrfilter *f, const char *p, size_t n)
{
	size_t i = 0;
	while (i < n && !f->in_body) {
		char c = p[i];
		if (f->at_bol) {
			if (c == ' ' || c == '\t') {
				/* continuation of the held field */
			} else {
				finish_field(f);
				if (c == '\r' || c == '\n') {
					/* The empty line: the body starts after it. */
					f->in_body = true;
					break;
				}
			}
		}
		hold(f, c);
		f->at_bol = c == '\n';
		i++;
	}
	if (i < n)
		f->out(f->arg, p + i, n - i);
}

void hdrfilter_end(struct hdrfilter *f)
{
	if (!f->in_body)
		finish_field(f);
}

void hdrfilter_free(struct hdrfilter *f)
{
	free(f->field);
	f->field = NULL;
}
