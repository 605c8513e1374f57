/* untagged.c — untagged responses about the selected folder, rendered from
 * the view and its change sets for the session's enabled extensions. */
#include "imapd/untagged.h"
#include "imapd/session.h"
#include "imapd/notify.h"
#include "common/mailindex.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

void s_flags(struct evbuffer *b, uint32_t flags, const char *kw, bool recent)
{
	static const struct { uint32_t bit; const char *name; } names[] = {
		{ MI_SEEN, "\\Seen" }, { MI_ANSWERED, "\\Answered" }, { MI_FLAGGED, "\\Flagged" },
		{ MI_DELETED, "\\Deleted" }, { MI_DRAFT, "\\Draft" },
	};
	bool first = true;
	evbuffer_add(b, "(", 1);
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		if (!(flags & names[i].bit))
			continue;
		evbuffer_add_printf(b, "%s%s", first ? "" : " ", names[i].name);
		first = false;
	}
	if (recent) {
		evbuffer_add_printf(b, "%s\\Recent", first ? "" : " ");
		first = false;
	}
	if (kw && *kw)
		evbuffer_add_printf(b, "%s%s", first ? "" : " ", kw);
	evbuffer_add(b, ")", 1);
}

void s_modseq(struct session *s, struct evbuffer *b, uint64_t modseq)
{
	if (s->condstore)
		evbuffer_add_printf(b, " MODSEQ (%llu)", (unsigned long long)modseq);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

void report_vanished(struct session *s, uint32_t *uids, size_t n, bool earlier)
{
	if (!n)
		return;
	qsort(uids, n, sizeof *uids, cmp_u32);
	struct evbuffer *b = s_buf(s);
	evbuffer_add_printf(b, "* VANISHED %s", earlier ? "(EARLIER) " : "");
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && uids[j + 1] <= uids[j] + 1)
			j++;
		evbuffer_add_printf(b, "%s%u", i ? "," : "", uids[i]);
		if (uids[j] != uids[i])
			evbuffer_add_printf(b, ":%u", uids[j]);
		i = j + 1;
	}
	evbuffer_add(b, "\r\n", 2);
}

void untagged_fetch_flags(struct session *s, size_t i, bool with_uid, bool with_modseq)
{
	const struct vmsg *m = &s->sel->m[i];
	struct evbuffer *b = s_buf(s);
	evbuffer_add_printf(b, "* %zu FETCH (FLAGS ", i + 1);
	s_flags(b, m->flags, m->kw, m->recent);
	if (with_uid)
		evbuffer_add_printf(b, " UID %u", m->uid);
	if (with_modseq || s->condstore)
		evbuffer_add_printf(b, " MODSEQ (%llu)", (unsigned long long)m->modseq);
	evbuffer_add(b, ")\r\n", 3);
}

static void keywords(struct evbuffer *b, const struct view *v)
{
	for (size_t i = 0; i < v->nkws; i++)
		evbuffer_add_printf(b, " %s", v->kws[i]);
}

/* Both lines reach the output in one piece, as s_out's do. */
void untagged_flags(struct session *s)
{
	const struct view *v = s->sel;
	struct evbuffer *line = evbuffer_new();
	evbuffer_add_printf(line, "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft");
	keywords(line, v);
	evbuffer_add(line, ")\r\n", 3);
	evbuffer_add_printf(line, "* OK [PERMANENTFLAGS (");
	if (!v->readonly) {
		evbuffer_add_printf(line, "\\Answered \\Flagged \\Deleted \\Seen \\Draft");
		keywords(line, v);
		evbuffer_add_printf(line, " \\*");
	}
	evbuffer_add_printf(line, ")] Flags permitted\r\n");
	evbuffer_add_buffer(s_buf(s), line);
	evbuffer_free(line);
}

/* One EXPUNGE per message in the order they were dropped, or one VANISHED. */
static void expunges(struct session *s, const struct view_changes *c)
{
	if (!s->qresync) {
		for (size_t k = 0; k < c->nexpunged; k++)
			s_out(s, "* %u EXPUNGE", c->expunged[k].seq);
		return;
	}
	uint32_t *uids = xcalloc(c->nexpunged + 1, sizeof *uids);
	for (size_t k = 0; k < c->nexpunged; k++)
		uids[k] = c->expunged[k].uid;
	report_vanished(s, uids, c->nexpunged, false);
	free(uids);
}

void untagged_changes(struct session *s, const struct view_changes *c)
{
	struct view *v = s->sel;
	for (size_t k = 0; k < v->nhooks; k++)
		if (v->hooks[k].early)
			v->hooks[k].early(s, c, v->hooks[k].arg);
	if (c->new_keywords)
		untagged_flags(s);	/* before any FETCH shows one of them */
	expunges(s, c);
	/* NOTIFY's selected filter without FlagChange: others' changes unsaid */
	bool flags = c->own || !notify_hides_flag_changes(s);
	for (size_t k = 0; flags && k < c->nchanged; k++) {
		uint32_t q = view_seq(v, c->changed[k]);
		if (q)
			untagged_fetch_flags(s, q - 1, c->with_uid, false);
	}
	if (c->nadded) {
		s_out(s, "* %zu EXISTS", v->n);
		if (!s->rev2)
			s_out(s, "* %zu RECENT", view_recent(v));
	}
	for (size_t k = 0; k < v->nhooks; k++)
		if (v->hooks[k].fn)
			v->hooks[k].fn(s, c, v->hooks[k].arg);
}
