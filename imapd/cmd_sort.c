/* cmd_sort.c — SORT (RFC 5256, SORT=DISPLAY of RFC 5957, ESORT and
 * CONTEXT=SORT of RFC 5267) and THREAD (ORDEREDSUBJECT here, REFERENCES and
 * REFS in thread.c), on the search program (search.h) and sort keys (sortkeys.h). */
#include "imapd/search.h"
#include "imapd/search_update.h"
#include "imapd/sortkeys.h"
#include "imapd/thread.h"
#include "common/mailindex.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- SORT ---- */

/* The charset and search program up to the end of the command, run over
 * the view: the matches' sort keys (view order), or NULL after a reply.
 * *prog (when not NULL) receives the program. */
static struct sortrec *select_and_fill(struct session *s, struct ip *ip, size_t *n, struct skey **prog)
{
	char *charset = NULL;
	if (!ip_sp(ip) || !(charset = ip_astring(ip, NULL)) || !ip_sp(ip)) {
		free(charset);
		s_bad(s, "Syntax: missing charset or search criteria");
		return NULL;
	}
	struct mi *mi;
	size_t *idx;
	int r = search_select(s, ip, charset, &mi, &idx, n, prog);
	free(charset);
	if (r == -1)
		s_bad(s, "Syntax error in search criteria: %s", ip->why ? ip->why : "unexpected input");
	else if (r == -2)
		s_no(s, "[BADCHARSET (UTF-8 US-ASCII)] Unknown charset");
	else if (r < 0)
		s_no(s, "[SERVERBUG] Cannot open mailbox");
	if (r < 0)
		return NULL;
	struct sortrec *recs = xcalloc(*n + 1, sizeof *recs);
	for (size_t i = 0; i < *n; i++)
		sortrec_fill(&recs[i], s, mi, idx[i]);
	free(idx);
	mi_close(mi);
	return recs;
}

static uint32_t number(struct session *s, size_t idx, bool uid)
{
	return uid ? s->sel->m[idx].uid : (uint32_t)idx + 1;
}

/* "RETURN (...) " before the criteria (ESORT, RFC 5267 3), when present. */
static bool sort_return(struct ip *ip, struct search_ret *r)
{
	const char *at = ip->p;
	char *w = ip_atom(ip);
	bool given = w && !strcasecmp(w, "RETURN");
	free(w);
	if (given)
		return ip_sp(ip) && search_parse_return(ip, r);
	ip->p = at;
	ip->bad = false;
	return true;
}

static const struct sort_program *g_prog;

static int cmp_sort(const void *x, const void *y)
{
	return sortrec_cmp(g_prog, x, y);
}

static void sort_reply(struct session *s, const uint32_t *hits, size_t n, const struct search_ret *ret,
		       bool uid)
{
	if (ret->opts & RET_SAVE)
		search_save_result(s, hits, n, ret->opts, uid);
	if (ret->esearch && (ret->opts & ~(unsigned)RET_SAVE)) {
		search_reply_esearch(s, hits, n, ret, uid, 0);
	} else if (!ret->esearch) {
		struct evbuffer *b = evbuffer_new();
		evbuffer_add(b, "* SORT", 6);
		for (size_t i = 0; i < n; i++)
			evbuffer_add_printf(b, " %u", hits[i]);
		evbuffer_add(b, "\r\n", 2);
		evbuffer_add_buffer(s_buf(s), b);
		evbuffer_free(b);
	}
}

void cmd_sort(struct session *s, struct ip *ip, bool uid)
{
	struct sort_program sp;
	struct search_ret ret = { .opts = RET_ALL };
	size_t n;
	if (!ip_sp(ip) || !sort_return(ip, &ret) || !sort_parse_criteria(ip, &sp)) {
		search_forget_result(s, &ret);
		s_bad(s, "Syntax: SORT [RETURN (options)] (criteria) charset search-criteria");
		return;
	}
	if ((ret.opts & RET_UPDATE) && !search_update_tag_free(s, s->tag)) {
		s_bad(s, "Tag already names an updating search");	/* RFC 5267 4.3 */
		return;
	}
	struct skey *prog = NULL;
	struct sortrec *recs = select_and_fill(s, ip, &n, (ret.opts & RET_UPDATE) ? &prog : NULL);
	if (!recs) {
		search_forget_result(s, &ret);
		return;
	}
	g_prog = &sp;
	qsort(recs, n, sizeof *recs, cmp_sort);
	uint32_t *hits = xcalloc(n + 1, sizeof *hits);
	for (size_t i = 0; i < n; i++)
		hits[i] = number(s, recs[i].idx, uid);
	sort_reply(s, hits, n, &ret, uid);
	if (ret.opts & RET_UPDATE) {
		search_update_sorted(s, prog, uid, &sp, recs, n);	/* takes prog and recs */
	} else {
		for (size_t i = 0; i < n; i++)
			sortrec_clear(&recs[i]);
		free(recs);
	}
	free(hits);
	s_ok(s, "SORT completed");
}

/* ---- THREAD=ORDEREDSUBJECT ---- */

static const enum sort_crit subj_date[] = { SC_SUBJECT, SC_DATE };

static int cmp_subject_date(const void *x, const void *y)
{
	const struct sortrec *a = x, *b = y;
	for (size_t i = 0; i < ARRAY_LEN(subj_date); i++) {
		int r = sortrec_cmp1(a, b, subj_date[i]);
		if (r)
			return r;
	}
	return (a->idx > b->idx) - (a->idx < b->idx);
}

struct thread {
	size_t first, count;	/* range in the subject-sorted array */
};

static const struct sortrec *g_recs;

static int cmp_thread(const void *x, const void *y)
{
	const struct thread *a = x, *b = y;
	/* RFC 5256: by the sent date of the first message, then by sequence */
	const struct sortrec *ra = &g_recs[a->first], *rb = &g_recs[b->first];
	int r = sortrec_cmp1(ra, rb, SC_DATE);
	return r ? r : (ra->idx > rb->idx) - (ra->idx < rb->idx);
}

void cmd_thread(struct session *s, struct ip *ip, bool uid)
{
	char *alg = NULL;
	size_t n;
	if (!ip_sp(ip) || !(alg = ip_atom(ip))) {
		s_bad(s, "Syntax: THREAD algorithm charset search-criteria");
		return;
	}
	bool refs = !strcasecmp(alg, "REFS");
	bool references = refs || !strcasecmp(alg, "REFERENCES");
	if (strcasecmp(alg, "ORDEREDSUBJECT") && !references) {
		free(alg);
		s_bad(s, "Unsupported threading algorithm");
		return;
	}
	free(alg);
	if (references) {
		struct sortrec *recs = select_and_fill(s, ip, &n, NULL);
		if (!recs)
			return;
		struct thread_msg *tm = xcalloc(n + 1, sizeof *tm);
		for (size_t i = 0; i < n; i++)
			tm[i] = (struct thread_msg){ recs[i].msgid, recs[i].refs, recs[i].subject,
						     recs[i].date, recs[i].reply,
						     number(s, recs[i].idx, uid), recs[i].irt };
		thread_references(s_buf(s), tm, n, refs);
		free(tm);
		for (size_t i = 0; i < n; i++)
			sortrec_clear(&recs[i]);
		free(recs);
		s_ok(s, "THREAD completed");
		return;
	}
	struct sortrec *recs = select_and_fill(s, ip, &n, NULL);
	if (!recs)
		return;
	qsort(recs, n, sizeof *recs, cmp_subject_date);
	struct thread *th = xcalloc(n + 1, sizeof *th);
	size_t nt = 0;
	for (size_t i = 0; i < n; i++) {
		if (i && !strcmp(recs[i].subject, recs[i - 1].subject)) {
			th[nt - 1].count++;
			continue;
		}
		th[nt++] = (struct thread){ i, 1 };
	}
	g_recs = recs;
	qsort(th, nt, sizeof *th, cmp_thread);
	struct evbuffer *b = s_buf(s);
	evbuffer_add(b, "* THREAD ", 9);
	for (size_t t = 0; t < nt; t++) {
		const struct thread *x = &th[t];
		evbuffer_add_printf(b, "(%u", number(s, recs[x->first].idx, uid));
		if (x->count == 2)
			evbuffer_add_printf(b, " %u", number(s, recs[x->first + 1].idx, uid));
		else
			for (size_t k = 1; k < x->count; k++)
				evbuffer_add_printf(b, "%s(%u)", k == 1 ? " " : "",
						    number(s, recs[x->first + k].idx, uid));
		evbuffer_add(b, ")", 1);
	}
	evbuffer_add(b, "\r\n", 2);
	for (size_t i = 0; i < n; i++)
		sortrec_clear(&recs[i]);
	free(recs);
	free(th);
	s_ok(s, "THREAD completed");
}
