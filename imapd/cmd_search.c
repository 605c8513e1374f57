/* cmd_search.c — SEARCH and UID SEARCH (search.h has the program) and their
 * ESEARCH result options (RFC 4731: MIN MAX COUNT ALL; RFC 5182: SAVE;
 * RFC 5267: PARTIAL, CONTEXT), which SORT shares (ESORT). */
#include "imapd/search.h"
#include "imapd/search_update.h"
#include "common/mailindex.h"
#include "common/mime.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- ESEARCH responses (search.h) ---- */

/* A set in the order given, ascending runs as ranges (RFC 5267 3.2). */
static void write_set(struct evbuffer *b, const uint32_t *v, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j + 1 < n && v[j + 1] == v[j] + 1)
			j++;
		evbuffer_add_printf(b, "%s%u", i ? "," : "", v[i]);
		if (j > i)
			evbuffer_add_printf(b, ":%u", v[j]);
		i = j + 1;
	}
}

/* RETURN (SAVE ...) (RFC 5182 2.1): with MIN and/or MAX alone only those
 * are saved, else every match. hits are sequence numbers or UIDs. */
void search_save_result(struct session *s, const uint32_t *hits, size_t n, unsigned opts, bool uid)
{
	struct view *v = s->sel;
	uint32_t *u = xcalloc(n + 1, sizeof *u);
	size_t k = 0;
	bool ends = (opts & (RET_MIN | RET_MAX)) && !(opts & (RET_ALL | RET_COUNT | RET_PARTIAL));
	for (size_t i = 0; i < n; i++) {
		if (ends && !((i == 0 && (opts & RET_MIN)) || (i == n - 1 && (opts & RET_MAX))))
			continue;
		u[k++] = uid ? hits[i] : v->m[hits[i] - 1].uid;
	}
	view_save_result(v, u, k);
	free(u);
}

/* A SEARCH with SAVE that fails leaves "$" empty (RFC 5182 2.1). */
void search_forget_result(struct session *s, const struct search_ret *r)
{
	if (r->opts & RET_SAVE)
		view_save_result(s->sel, NULL, 0);
}

void search_reply_esearch(struct session *s, const uint32_t *hits, size_t n, const struct search_ret *r,
			  bool uid, uint64_t modseq)
{
	struct evbuffer *b = evbuffer_new();
	evbuffer_add(b, "* ESEARCH (TAG ", 15);
	imap_quote(b, s->tag, strlen(s->tag));
	evbuffer_add_printf(b, ")%s", uid ? " UID" : "");
	if (n && (r->opts & RET_MIN))
		evbuffer_add_printf(b, " MIN %u", hits[0]);
	if (n && (r->opts & RET_MAX))
		evbuffer_add_printf(b, " MAX %u", hits[n - 1]);
	if (n && (r->opts & RET_ALL)) {
		evbuffer_add(b, " ALL ", 5);
		write_set(b, hits, n);
	}
	if (r->opts & RET_PARTIAL) {
		/* positions plo..phi (1-based) of the result, NIL when none */
		evbuffer_add_printf(b, " PARTIAL (%u:%u ", r->plo, r->phi);
		if (r->plo <= n)
			write_set(b, hits + r->plo - 1, (r->phi < n ? r->phi : n) - r->plo + 1);
		else
			evbuffer_add(b, "NIL", 3);
		evbuffer_add(b, ")", 1);
	}
	if (r->opts & RET_COUNT)
		evbuffer_add_printf(b, " COUNT %zu", n);
	if (n && modseq)	/* RFC 7162 3.1.5 */
		evbuffer_add_printf(b, " MODSEQ %llu", (unsigned long long)modseq);
	evbuffer_add(b, "\r\n", 2);
	evbuffer_add_buffer(s_buf(s), b);
	evbuffer_free(b);
}

/* ---- SEARCH ---- */

void cmd_search(struct session *s, struct ip *ip, bool uid)
{
	char *charset = NULL;
	struct search_ret ret = { .opts = RET_ALL };
	if (!ip_sp(ip))
		goto syntax;
	const char *save = ip->p;
	char *w = ip_atom(ip);
	if (w && !strcasecmp(w, "RETURN")) {
		free(w);
		if (!ip_sp(ip) || !search_parse_return(ip, &ret))
			goto syntax;
		save = ip->p;
		w = ip_atom(ip);
	}
	if (w && !strcasecmp(w, "CHARSET") && s->utf8) {
		/* RFC 6855 3: after ENABLE UTF8=ACCEPT every string is UTF-8 */
		free(w);
		search_forget_result(s, &ret);
		s_bad(s, "SEARCH CHARSET is not allowed after ENABLE UTF8=ACCEPT");
		return;
	}
	if (w && !strcasecmp(w, "CHARSET")) {
		if (!ip_sp(ip) || !(charset = ip_astring(ip, NULL)) || !ip_sp(ip)) {
			free(w);
			goto syntax;
		}
	} else {
		ip->p = save;	/* not CHARSET: re-read as a search key */
		ip->bad = false;
	}
	free(w);
	if (charset && strcasecmp(charset, "UTF-8") && strcasecmp(charset, "US-ASCII")) {
		char *probe = mime_to_utf8(charset, "", 0);
		if (!probe) {
			s_no(s, "[BADCHARSET (UTF-8 US-ASCII)] Unknown charset");
			free(charset);
			search_forget_result(s, &ret);
			return;
		}
		free(probe);
	}
	bool badcharset, modseq;
	struct skey *prog = search_parse(ip, charset, &badcharset, &modseq);
	if (!prog) {
		if (badcharset) {
			s_no(s, "[BADCHARSET (UTF-8 US-ASCII)] Cannot convert search string");
			free(charset);
			search_forget_result(s, &ret);
			return;
		}
		goto syntax;
	}
	if ((ret.opts & RET_UPDATE) && !search_update_tag_free(s, s->tag)) {
		skey_free(prog);
		free(charset);
		s_bad(s, "Tag already names an updating search");	/* RFC 5267 4.3 */
		return;
	}
	struct mi *mi = view_sync(s, uid);
	if (!mi) {
		skey_free(prog);
		free(charset);
		s_no(s, "[SERVERBUG] Cannot open mailbox");
		search_forget_result(s, &ret);
		return;
	}
	uint32_t *hits = xcalloc(s->sel->n + 1, sizeof *hits);
	size_t *idx, nh = search_run(s, mi, prog, &idx);
	uint64_t maxmod = 0;
	if (modseq)
		condstore_enable(s);
	for (size_t j = 0; j < nh; j++) {
		size_t i = idx[j];
		hits[j] = uid ? s->sel->m[i].uid : (uint32_t)i + 1;
		if (s->sel->m[i].modseq > maxmod)
			maxmod = s->sel->m[i].modseq;
	}
	if (ret.esearch && nh && !(ret.opts & (RET_ALL | RET_COUNT | RET_PARTIAL)) &&
	    (ret.opts & (RET_MIN | RET_MAX))) {
		/* RFC 7162 3.1.5: the highest MODSEQ of the messages returned,
		 * here only the first and/or the last */
		uint64_t lo = s->sel->m[idx[0]].modseq, hi = s->sel->m[idx[nh - 1]].modseq;
		maxmod = 0;
		if ((ret.opts & RET_MIN) && lo > maxmod)
			maxmod = lo;
		if ((ret.opts & RET_MAX) && hi > maxmod)
			maxmod = hi;
	}
	mi_close(mi);
	if (ret.opts & RET_SAVE)
		search_save_result(s, hits, nh, ret.opts, uid);
	if (ret.opts == RET_SAVE) {
		/* SAVE alone: no ESEARCH response (RFC 5182 2.1) */
	} else if (ret.esearch || s->rev2) {
		/* RFC 9051 6.4.4: IMAP4rev2 answers every SEARCH with ESEARCH */
		search_reply_esearch(s, hits, nh, &ret, uid, modseq ? maxmod : 0);
	} else {
		struct evbuffer *b = s_buf(s);
		evbuffer_add(b, "* SEARCH", 8);
		for (size_t i = 0; i < nh; i++)
			evbuffer_add_printf(b, " %u", hits[i]);
		if (modseq && nh)
			evbuffer_add_printf(b, " (MODSEQ %llu)", (unsigned long long)maxmod);
		evbuffer_add(b, "\r\n", 2);
	}
	if (ret.opts & RET_UPDATE)
		search_update_start(s, prog, uid, idx, nh);	/* takes prog */
	else
		skey_free(prog);
	free(idx);
	free(hits);
	free(charset);
	s_ok(s, "SEARCH completed");
	return;
syntax:
	free(charset);
	search_forget_result(s, &ret);
	s_bad(s, "Syntax error in SEARCH: %s", ip->why ? ip->why : "unexpected input");
}

/* ---- shared with SORT and THREAD (cmd_sort.c) ---- */

int search_select(struct session *s, struct ip *ip, const char *charset, struct mi **mi_out,
		  size_t **idx, size_t *n, struct skey **keep)
{
	bool badcharset, modseq;
	struct skey *prog = search_parse(ip, charset, &badcharset, &modseq);
	if (!prog)
		return badcharset ? -2 : -1;
	struct mi *mi = view_sync(s, true);
	if (!mi) {
		skey_free(prog);
		return -3;
	}
	*n = search_run(s, mi, prog, idx);
	if (keep)
		*keep = prog;
	else
		skey_free(prog);
	*mi_out = mi;
	return 0;
}
