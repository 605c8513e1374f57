/* cmd_fetch.c — FETCH (every RFC 3501 item, sections and partials) and STORE. */
#include "imapd/commands.h"
#include "common/log.h"
#include "common/mailindex.h"
#include "common/mime.h"
#include "common/mime_preview.h"
#include "common/mime_stream.h"
#include "common/objectid.h"
#include "common/threadid.h"
#include "imapd/fetch_parse.h"
#include "imapd/fetch_stream.h"
#include "common/util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MSG_READ_MAX (1024ULL * 1024 * 1024)

/* UID FETCH ... (CHANGEDSINCE n VANISHED): expunged UIDs of the set first. */
static void fetch_vanished(struct session *s, struct mi *mi, const struct seqset *set, uint64_t since)
{
	uint32_t *gone;
	size_t n = mi_expunged_since(mi, since, &gone), k = 0;
	for (size_t i = 0; i < n; i++)
		if (seqset_has(set, gone[i], UINT32_MAX))
			gone[k++] = gone[i];
	report_vanished(s, gone, k, true);
	free(gone);
}

/* The message being answered: its file, and its structure once needed. */
struct fmsg {
	int fd;
	uint64_t size;		/* CRLF octets (the index's RFC822.SIZE) */
	struct mime_msg *m;	/* parsed on demand (mime_stream.h) */
};

static struct mime_msg *fmsg_tree(struct fmsg *fm)
{
	if (!fm->m)
		fm->m = mime_parse_fd(fm->fd, MSG_READ_MAX, NULL);
	return fm->m;
}

/* start/len of a partial within n octets. */
static void clamp(const struct fitem *f, uint64_t n, uint64_t *st, uint64_t *len)
{
	*st = 0;
	*len = n;
	if (f->partial) {
		*st = f->start < n ? f->start : n;
		*len = n - *st < f->len ? n - *st : f->len;
	}
}

static void out_section(struct fstream *fs, const struct fitem *f, struct fmsg *fm)
{
	uint64_t st, len;
	if (!*f->section) {	/* BODY[], RFC822: no need to parse */
		clamp(f, fm->size, &st, &len);
		fs_range(fs, fm->fd, st, len, false);
		return;
	}
	struct mime_msg *m = fmsg_tree(fm);
	struct mime_section sec;
	if (!m || mime_section(m, f->section, &sec) < 0) {
		evbuffer_add(fs_text(fs), "NIL", 3);
		return;
	}
	if (sec.kind == MIME_SEC_RANGE) {
		clamp(f, sec.len, &st, &len);
		fs_range(fs, fm->fd, sec.off + st, len, false);
	} else {
		/* HEADER.FIELDS: filtered from the whole header */
		struct evbuffer *tmp = evbuffer_new();
		mime_filter_section(m, fm->fd, &sec, tmp);
		clamp(f, evbuffer_get_length(tmp), &st, &len);
		struct evbuffer *t = fs_text(fs);
		evbuffer_add_printf(t, "{%llu}\r\n", (unsigned long long)len);
		evbuffer_add(t, (const char *)evbuffer_pullup(tmp, -1) + st, (size_t)len);
		evbuffer_free(tmp);
	}
	mime_section_free(&sec);
}

/* BINARY[part] (RFC 3516): the part with its transfer encoding undone, decoded
 * twice (once for its size) rather than held; a literal8 (~{n}) when the
 * octets sent include NUL. false for an unknown encoding. */
static bool out_binary(struct fstream *fs, const struct fitem *f, struct fmsg *fm)
{
	uint64_t off = 0, clen = fm->size;
	struct mstream_dec d;
	mstream_dec_init(&d, NULL);
	if (*f->section) {
		struct mime_msg *m = fmsg_tree(fm);
		const struct mime_part *p = m ? mime_find_part(m, f->section) : NULL;
		if (p && !mstream_dec_init(&d, p->enc))
			return false;
		off = p ? p->body_off : 0;
		clen = p ? p->body_len : 0;
	}
	uint64_t size, st = f->partial ? f->start : 0, want = f->partial ? f->len : UINT64_MAX;
	bool nul;
	if (fs_decoded_size(fm->fd, off, clen, &d, st, want, &size, &nul) < 0)
		size = 0, nul = false;
	if (f->kind == F_BINSIZE) {
		evbuffer_add_printf(fs_text(fs), "%llu", (unsigned long long)size);
		return true;
	}
	uint64_t len;
	clamp(f, size, &st, &len);
	fs_decoded(fs, fm->fd, off, clen, &d, st, len, nul);
	return true;
}

static void out_cached(struct evbuffer *b, struct mi *mi, uint32_t uid, char which)
{
	char *c = mi_cached(mi, uid, which);
	evbuffer_add_printf(b, "%s", c ? c : "NIL");
	free(c);
}

/* The message file of rec (for body items), -1 if it vanished. */
static int open_message(struct mi *mi, const struct mi_rec *rec)
{
	char *path = mi_path(mi, rec);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(path);
	return fd;
}

/* The preview of the message in fd (tree m), its text part read from the
 * file (mime_stream.h keeps no bodies). */
static char *preview_from_file(const struct mime_msg *m, int fd)
{
	const struct mime_part *p = mime_preview_part(m);
	if (!p)
		return xstrdup("");
	uint64_t want = p->body_len < MIME_PREVIEW_SCAN ? p->body_len : MIME_PREVIEW_SCAN;
	char *body = xmalloc(want + 2);
	struct crlf_reader *cr = xmalloc(sizeof *cr);
	crlf_reader_init(cr, fd, p->body_off, want);
	size_t n = 0;
	ssize_t got;
	while (n < want && (got = crlf_read(cr, body + n, want - n + 2)) > 0)
		n += (size_t)got;
	free(cr);
	char *r = mime_preview_text(p, body, n);
	free(body);
	return r;
}

/* PREVIEW (RFC 8970): from the index, else made from the file and kept
 * there; with LAZY, NIL unless the index has it. A message encrypted at
 * rest has none to show: "" (mime_preview.h) is what the index keeps for
 * it, so the index never holds text the server could not read. */
static void out_preview(struct evbuffer *b, struct mi *mi, const struct mi_rec *rec,
			const struct fitem *f, struct fmsg *fm)
{
	char *p = mi_preview_get(mi, rec->uid);
	if (!p && !f->lazy) {
		if (fm->fd < 0)
			fm->fd = open_message(mi, rec);
		struct mime_msg *m = fm->fd >= 0 ? fmsg_tree(fm) : NULL;
		p = m ? preview_from_file(m, fm->fd) : NULL;
		if (p)
			mi_preview_put(mi, rec->uid, p);
	}
	if (p)
		imap_quote(b, p, strlen(p));
	else
		evbuffer_add(b, "NIL", 3);
	free(p);
}

/* \Seen set by a body fetch; false if it was not. */
static bool fetch_set_seen(struct session *s, struct mi *mi, struct vmsg *m, struct mi_rec *rec,
			   const struct freq *r)
{
	if (!r->sets_seen || s->sel->readonly || (m->flags & MI_SEEN))
		return false;
	uint64_t before = mi_header(mi)->modseq;
	if (mi_set_flags(mi, m->uid, m->flags | MI_SEEN, NULL) < 0)
		return false;
	m->flags |= MI_SEEN;
	rec->modseq = m->modseq = mi_header(mi)->modseq;
	/* the view stays in step only if nobody else changed the folder since */
	if (s->sel->modseq == before)
		s->sel->modseq = mi_header(mi)->modseq;
	return true;
}

/* One "* n FETCH (...)" response. false if the message is gone. */
/* RFC 8474 5.2: the thread JMAP also names (common/threadid.h); NIL only
 * when the store cannot be opened. */
static void out_threadid(struct evbuffer *b, struct threadids *tid, struct mi *mi,
			 const struct mi_rec *rec)
{
	char id[OBJECTID_LEN + 1], t[OBJECTID_LEN + 1];
	objectid_email(rec->file, id);
	char *path = mi_path(mi, rec);
	if (threadid_get(tid, path, id, t))
		evbuffer_add_printf(b, "(%s)", t);
	else
		evbuffer_add(b, "NIL", 3);
	free(path);
}

static bool fetch_one(struct session *s, struct fstream *fs, struct mi *mi, size_t i,
		      struct freq *r, bool uid, bool *unknown_cte, struct threadids *tid)
{
	struct vmsg *m = &s->sel->m[i];
	if (m->gone)
		return false;
	struct mi_rec rec;
	if (mi_get(mi, m->uid, &rec) != 1)
		return false;
	if (r->changedsince && rec.modseq <= r->since) {
		mi_rec_clear(&rec);
		return true;	/* unchanged: not reported */
	}
	struct fmsg fm = { -1, rec.size, NULL };
	if (r->need_body && (fm.fd = open_message(mi, &rec)) < 0) {
		mi_rec_clear(&rec);
		return false;
	}
	bool set_seen = fetch_set_seen(s, mi, m, &rec, r);
	struct evbuffer *b = fs_text(fs);
	evbuffer_add_printf(b, "* %zu FETCH (", i + 1);
	const char *sp = "";
	if (uid && !r->has_uid) {
		evbuffer_add_printf(b, "UID %u", m->uid);
		sp = " ";
	}
	for (size_t k = 0; k < r->n; k++) {
		struct fitem *f = &r->it[k];
		b = fs_text(fs);
		evbuffer_add_printf(b, "%s%s ", sp, f->name);
		sp = " ";
		char date[32];
		switch (f->kind) {
		case F_FLAGS: s_flags(b, m->flags, m->kw, m->recent); break;
		case F_UID: evbuffer_add_printf(b, "%u", m->uid); break;
		case F_SIZE: evbuffer_add_printf(b, "%llu", (unsigned long long)rec.size); break;
		case F_MODSEQ: evbuffer_add_printf(b, "(%llu)", (unsigned long long)rec.modseq); break;
		case F_EMAILID: {
			char id[OBJECTID_LEN + 1];
			objectid_email(rec.file, id);
			evbuffer_add_printf(b, "(%s)", id);
			break;
		}
		case F_THREADID: out_threadid(b, tid, mi, &rec); break;
		case F_INTERNALDATE:
			fmt_internaldate(rec.idate, date);
			evbuffer_add_printf(b, "\"%s\"", date);
			break;
		/* RFC 8514: NIL when the index does not know it (kept since) */
		case F_SAVEDATE:
			if (!rec.savedate) {
				evbuffer_add(b, "NIL", 3);
				break;
			}
			fmt_internaldate(rec.savedate, date);
			evbuffer_add_printf(b, "\"%s\"", date);
			break;
		case F_ENVELOPE: out_cached(b, mi, m->uid, 'E'); break;
		case F_BODYSTRUCTURE: out_cached(b, mi, m->uid, 'S'); break;
		case F_BODY: out_cached(b, mi, m->uid, 'B'); break;
		case F_PREVIEW: out_preview(b, mi, &rec, f, &fm); break;
		case F_SECTION: out_section(fs, f, &fm); break;
		case F_BINARY:
		case F_BINSIZE:
			if (!out_binary(fs, f, &fm)) {
				evbuffer_add(fs_text(fs), "NIL", 3);
				*unknown_cte = true;
			}
			break;
		}
	}
	b = fs_text(fs);
	if (set_seen && !r->has_flags) {
		evbuffer_add(b, " FLAGS ", 7);
		s_flags(b, m->flags, m->kw, m->recent);
	}
	if (!r->has_modseq && (r->changedsince || (s->condstore && (r->has_flags || set_seen))))
		evbuffer_add_printf(b, " MODSEQ (%llu)", (unsigned long long)rec.modseq);
	evbuffer_add(b, ")\r\n", 3);
	if (fm.m)
		mime_stream_free(fm.m);
	if (fm.fd >= 0)
		close(fm.fd);
	mi_rec_clear(&rec);
	return true;
}

/* ---- the FETCH in progress ---- */

#define BATCH_TEXT	(256 * 1024)	/* response text built per turn of the index lock */
#define BATCH_FILES	8		/* file literals queued per turn */

struct fetch_job {
	struct freq r;
	bool uid, missing, unknown_cte;
	bool failed;		/* the index could not be opened again */
	bool unsolicited;	/* NOTIFY's MessageNew: no tagged reply */
	size_t *idx, n, k;
	struct fstream *fs;
};

void fetch_job_free(struct fetch_job *j)
{
	if (!j)
		return;
	freq_free(&j->r);
	free(j->idx);
	fs_free(j->fs);
	free(j);
}

/* Answer messages while the index is open, until the queued output is big
 * enough to wait for the client. */
static void fetch_batch(struct session *s, struct fetch_job *j, struct mi *mi)
{
	struct threadids tid = { 0 };
	while (j->k < j->n && fs_queued_text(j->fs) < BATCH_TEXT &&
	       fs_queued_files(j->fs) < BATCH_FILES) {
		if (!fetch_one(s, j->fs, mi, j->idx[j->k], &j->r, j->uid, &j->unknown_cte, &tid))
			j->missing = true;
		j->k++;
	}
	threadid_end(&tid);	/* the store's writer is not kept between turns */
}

/* Output octets waiting: the session's buffer and, under COMPRESS, the
 * socket's buffer below the filter. */
static size_t out_pending(struct session *s)
{
	size_t n = evbuffer_get_length(s_buf(s));
	struct bufferevent *u = bufferevent_get_underlying(s->bev);
	if (u)
		n += evbuffer_get_length(bufferevent_get_output(u));
	return n;
}

bool fetch_pump(struct session *s)
{
	/* adding output can call back here (COMPRESS's filter): the outer call
	 * goes on anyway */
	if (s->pumping)
		return true;
	s->pumping = true;
	while (s->fetch && out_pending(s) < S_OUT_HIGH) {
		struct fetch_job *j = s->fetch;
		if (!fs_empty(j->fs)) {
			fs_send(j->fs, s_buf(s), S_OUT_HIGH - out_pending(s));
			continue;
		}
		if (j->k < j->n) {
			/* the index lock is taken again for the next messages only */
			struct mi *mi = open_folder(s, s->sel->dir);
			if (!mi) {
				j->failed = true;
				j->k = j->n;
				continue;
			}
			fetch_batch(s, j, mi);
			mi_close(mi);
			continue;
		}
		/* as Dovecot does (RFC 2180 4.1.2 leaves the choice): the
		 * messages still here are answered, and the command succeeds */
		if (j->unsolicited)
			;	/* no command asked */
		else if (j->failed)
			s_no(s, "[SERVERBUG] Cannot open mailbox");
		else if (j->missing)
			s_ok(s, "[EXPUNGEISSUED] Some messages were already expunged");
		else if (j->unknown_cte)
			s_no(s, "[UNKNOWN-CTE] Unknown Content-Transfer-Encoding");
		else
			s_ok(s, "FETCH completed");
		fetch_job_free(j);
		s->fetch = NULL;
	}
	s->pumping = false;
	return s->fetch != NULL;
}

void fetch_unsolicited(struct session *s, const char *atts, const uint32_t *uids, size_t n)
{
	struct fetch_job *j = xcalloc(1, sizeof *j);
	struct ip ip;
	ip_init(&ip, atts, strlen(atts));
	if (s->fetch || !fetch_parse_atts(&ip, &j->r)) {
		fetch_job_free(j);
		return;
	}
	j->uid = j->unsolicited = true;
	j->idx = xcalloc(n + 1, sizeof *j->idx);
	for (size_t i = 0; i < n; i++) {
		uint32_t q = view_seq(s->sel, uids[i]);
		if (q)
			j->idx[j->n++] = q - 1;
	}
	j->fs = fs_new();
	s->fetch = j;
	fetch_pump(s);	/* the rest as the client reads (session.c) */
}

void cmd_fetch(struct session *s, struct ip *ip, bool uid)
{
	struct fetch_job *j = xcalloc(1, sizeof *j);
	struct seqset set = { 0 };
	char *setstr = NULL;
	if (!ip_sp(ip) || !(setstr = ip_until(ip, " ")) || !seqset_parse(setstr, &set) || !ip_sp(ip) ||
	    !fetch_parse_atts(ip, &j->r) || !fetch_parse_modifiers(ip, &j->r) || !ip_eol(ip)) {
		s_bad(s, "Syntax: FETCH set items [(CHANGEDSINCE modseq)]");
		goto fail;
	}
	if (j->r.vanished && (!uid || !s->qresync)) {
		s_bad(s, "VANISHED needs UID FETCH and ENABLE QRESYNC");
		goto fail;
	}
	if (j->r.has_modseq || j->r.changedsince)
		condstore_enable(s);
	struct mi *mi = view_sync(s, uid);
	if (!mi) {
		s_no(s, "[SERVERBUG] Cannot open mailbox");
		goto fail;
	}
	if (!uid && !view_seqs_valid(s->sel, &set)) {
		mi_close(mi);
		s_bad(s, "Invalid message sequence number");
		goto fail;
	}
	if (j->r.vanished)
		fetch_vanished(s, mi, &set, j->r.since);
	j->uid = uid;
	j->n = view_resolve(s->sel, &set, uid, &j->idx);
	j->fs = fs_new();
	fetch_batch(s, j, mi);
	mi_close(mi);
	s->fetch = j;
	fetch_pump(s);	/* the rest as the client reads (session.c) */
	free(setstr);
	seqset_free(&set);
	return;
fail:
	free(setstr);
	seqset_free(&set);
	fetch_job_free(j);
}

/* ---- STORE ---- */

static bool kw_has(const char *list, const char *k, size_t kl)
{
	for (const char *p = list; *p;) {
		const char *e = strchr(p, ' ');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == kl && !strncasecmp(p, k, kl))
			return true;
		if (!e)
			break;
		p = e + 1;
	}
	return false;
}

/* op '+': old ∪ kw, '-': old \ kw, else kw */
static char *kw_apply(const char *old, const char *kw, char op)
{
	if (op != '+' && op != '-')
		return xstrdup(kw);
	char *out = xcalloc(1, MI_MAX_KEYWORDS_LEN + 1);
	const char *src[2] = { old, op == '+' ? kw : "" };
	for (int s = 0; s < 2; s++) {
		for (const char *p = src[s]; *p;) {
			const char *e = strchr(p, ' ');
			size_t n = e ? (size_t)(e - p) : strlen(p);
			bool drop = op == '-' && kw_has(kw, p, n);
			if (n && !drop && !kw_has(out, p, n) && strlen(out) + n + 2 <= MI_MAX_KEYWORDS_LEN) {
				if (*out)
					strcat(out, " ");
				strncat(out, p, n);
			}
			if (!e)
				break;
			p = e + 1;
		}
	}
	return out;
}

/* optional "(UNCHANGEDSINCE n) " before the item (RFC 7162) */
static bool parse_unchangedsince(struct ip *ip, bool *on, uint64_t *v)
{
	if (!ip_char(ip, '('))
		return true;
	char *a = ip_atom(ip);
	bool ok = a && !strcasecmp(a, "UNCHANGEDSINCE") && ip_sp(ip) &&
		  ip_number(ip, UINT64_MAX / 2, v) && ip_char(ip, ')') && ip_sp(ip);
	free(a);
	*on = ok;
	return ok;
}

void cmd_store(struct session *s, struct ip *ip, bool uid)
{
	struct seqset set = { 0 };
	char *setstr = NULL, *item = NULL;
	char kw[MI_MAX_KEYWORDS_LEN + 1];
	uint32_t flags = 0;
	uint64_t unchangedsince = 0;
	bool conditional = false;
	if (!ip_sp(ip) || !(setstr = ip_until(ip, " ")) || !seqset_parse(setstr, &set) || !ip_sp(ip) ||
	    !parse_unchangedsince(ip, &conditional, &unchangedsince) ||
	    !(item = ip_atom(ip)) || !ip_sp(ip) || !parse_flags(ip, false, &flags, kw, sizeof kw) ||
	    !ip_eol(ip)) {
		s_bad(s, "Syntax: STORE set [+|-]FLAGS[.SILENT] (flags)");
		goto out;
	}
	char op = item[0] == '+' || item[0] == '-' ? item[0] : 0;
	const char *w = op ? item + 1 : item;
	bool silent = !strcasecmp(w, "FLAGS.SILENT");
	if (!silent && strcasecmp(w, "FLAGS")) {
		s_bad(s, "Unknown STORE item");
		goto out;
	}
	if (s->sel->readonly) {
		s_no(s, "[READ-ONLY] Mailbox is read-only");
		goto out;
	}
	struct mi *mi = view_sync(s, uid);
	if (!mi) {
		s_no(s, "[SERVERBUG] Cannot open mailbox");
		goto out;
	}
	if (conditional)
		condstore_enable(s);
	if (!uid && !view_seqs_valid(s->sel, &set)) {
		mi_close(mi);
		s_bad(s, "Invalid message sequence number");
		goto out;
	}
	size_t *idx;
	size_t n = view_resolve(s->sel, &set, uid, &idx);
	bool missing = false;
	uint32_t *modified = xcalloc(n + 1, sizeof *modified);
	size_t nmod = 0;
	struct view_changes c = { .with_uid = uid, .own = true, .mi = mi };
	for (size_t k = 0; k < n; k++) {
		struct vmsg *m = &s->sel->m[idx[k]];
		if (conditional && m->modseq > unchangedsince) {
			modified[nmod++] = uid ? m->uid : (uint32_t)idx[k] + 1;
			continue;
		}
		uint32_t nf = op == '+' ? m->flags | flags : op == '-' ? m->flags & ~flags : flags;
		char *nk = kw_apply(m->kw, kw, op);
		if (m->gone || mi_set_flags(mi, m->uid, nf, nk) < 0) {
			missing = true;
			free(nk);
			continue;
		}
		m->flags = nf;
		struct mi_rec now;
		/* keywords as the folder spells them */
		bool got = mi_get(mi, m->uid, &now) == 1;
		view_set_keywords(s->sel, idx[k], got ? now.keywords : nk, &c);
		/* the record's: a STORE that changes nothing keeps its MODSEQ */
		m->modseq = got ? now.modseq : mi_header(mi)->modseq;
		if (got)
			mi_rec_clear(&now);
		free(nk);
		if (!silent)
			view_changes_flag(&c, m->uid);
		else
			view_changes_quiet(&c, m->uid);
	}
	s->sel->modseq = mi_header(mi)->modseq;
	c.modseq = s->sel->modseq;
	free(idx);
	untagged_changes(s, &c);	/* the index still open for subscribers */
	mi_close(mi);
	view_changes_free(&c);
	if (missing) {
		/* the others were stored (RFC 2180 4.2.1) */
		s_ok(s, "[EXPUNGEISSUED] Some messages were already expunged");
	} else if (nmod) {
		struct evbuffer *mb = evbuffer_new();
		for (size_t k = 0; k < nmod; k++)
			evbuffer_add_printf(mb, "%s%u", k ? "," : "", modified[k]);
		evbuffer_add(mb, "", 1);
		s_ok(s, "[MODIFIED %s] Conditional STORE failed for some messages",
		     (const char *)evbuffer_pullup(mb, -1));
		evbuffer_free(mb);
	} else {
		s_ok(s, "STORE completed");
	}
	free(modified);
out:
	free(setstr);
	free(item);
	seqset_free(&set);
}
