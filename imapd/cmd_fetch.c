/* cmd_fetch.c — FETCH (every RFC 3501 item, sections and partials) and STORE. */
#include "imapd/session.h"
#include "common/log.h"
#include "common/mailindex.h"
#include "common/mime.h"
#include "common/util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define FETCH_MAX_ITEMS 64
#define MSG_READ_MAX (1024ULL * 1024 * 1024)

enum fkind { F_ENVELOPE, F_FLAGS, F_INTERNALDATE, F_SIZE, F_UID, F_BODY, F_BODYSTRUCTURE,
	     F_SECTION, F_MODSEQ, F_BINARY, F_BINSIZE };

struct fitem {
	enum fkind kind;
	char *name;		/* response label, e.g. "BODY[1.2]" or "RFC822.HEADER" */
	char *section;		/* F_SECTION: spec inside [] */
	bool peek, partial;
	uint64_t start, len;
};

struct freq {
	struct fitem it[FETCH_MAX_ITEMS];
	size_t n;
	bool need_body, sets_seen, has_flags, has_uid, has_modseq;
	bool changedsince, vanished;
	uint64_t since;
};

static void add(struct freq *r, enum fkind k, const char *name, const char *section, bool peek)
{
	if (r->n >= FETCH_MAX_ITEMS)
		return;
	struct fitem *f = &r->it[r->n++];
	memset(f, 0, sizeof *f);
	f->kind = k;
	f->name = xstrdup(name);
	f->section = section ? xstrdup(section) : NULL;
	f->peek = peek;
	if (k == F_SECTION || k == F_BINARY || k == F_BINSIZE) {
		r->need_body = true;
		r->sets_seen |= !peek;
	}
	r->has_flags |= k == F_FLAGS;
	r->has_uid |= k == F_UID;
	r->has_modseq |= k == F_MODSEQ;
}

static void freq_free(struct freq *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->it[i].name);
		free(r->it[i].section);
	}
}

/* BODY[section]<partial> after "BODY" or "BODY.PEEK" (BINARY likewise) */
static bool parse_section(struct ip *ip, struct freq *r, bool peek, enum fkind kind)
{
	char *spec = ip_until(ip, "]");
	if (!spec || !ip_char(ip, ']')) {
		free(spec);
		return false;
	}
	if (kind != F_SECTION && strspn(spec, "0123456789.") != strlen(spec)) {
		free(spec);
		return false;	/* BINARY takes part numbers only */
	}
	const char *label = kind == F_SECTION ? "BODY" : kind == F_BINARY ? "BINARY" : "BINARY.SIZE";
	char *name = xasprintf("%s[%s]", label, spec);
	add(r, kind, name, spec, peek);
	free(name);
	free(spec);
	if (kind == F_BINSIZE)
		return true;	/* no partial for sizes */
	if (ip_char(ip, '<')) {
		uint64_t a, b;
		if (!ip_number(ip, UINT32_MAX, &a) || !ip_char(ip, '.') || !ip_number(ip, UINT32_MAX, &b) ||
		    b == 0 || !ip_char(ip, '>'))
			return false;
		struct fitem *f = &r->it[r->n - 1];
		f->partial = true;
		f->start = a;
		f->len = b;
		char *nn = xasprintf("%s<%llu>", f->name, (unsigned long long)a);
		free(f->name);
		f->name = nn;
	}
	return true;
}

static bool parse_att(struct ip *ip, struct freq *r)
{
	char *a = ip_until(ip, " ()[");
	bool ok = true;
	if (!a || !*a)
		ok = false;
	else if (!strcasecmp(a, "ALL") || !strcasecmp(a, "FAST") || !strcasecmp(a, "FULL")) {
		add(r, F_FLAGS, "FLAGS", NULL, true);
		add(r, F_INTERNALDATE, "INTERNALDATE", NULL, true);
		add(r, F_SIZE, "RFC822.SIZE", NULL, true);
		if (strcasecmp(a, "FAST"))
			add(r, F_ENVELOPE, "ENVELOPE", NULL, true);
		if (!strcasecmp(a, "FULL"))
			add(r, F_BODY, "BODY", NULL, true);
	} else if (!strcasecmp(a, "ENVELOPE"))
		add(r, F_ENVELOPE, "ENVELOPE", NULL, true);
	else if (!strcasecmp(a, "FLAGS"))
		add(r, F_FLAGS, "FLAGS", NULL, true);
	else if (!strcasecmp(a, "INTERNALDATE"))
		add(r, F_INTERNALDATE, "INTERNALDATE", NULL, true);
	else if (!strcasecmp(a, "RFC822.SIZE"))
		add(r, F_SIZE, "RFC822.SIZE", NULL, true);
	else if (!strcasecmp(a, "UID"))
		add(r, F_UID, "UID", NULL, true);
	else if (!strcasecmp(a, "MODSEQ"))
		add(r, F_MODSEQ, "MODSEQ", NULL, true);
	else if (!strcasecmp(a, "BODYSTRUCTURE"))
		add(r, F_BODYSTRUCTURE, "BODYSTRUCTURE", NULL, true);
	else if (!strcasecmp(a, "RFC822"))
		add(r, F_SECTION, "RFC822", "", false);
	else if (!strcasecmp(a, "RFC822.HEADER"))
		add(r, F_SECTION, "RFC822.HEADER", "HEADER", true);
	else if (!strcasecmp(a, "RFC822.TEXT"))
		add(r, F_SECTION, "RFC822.TEXT", "TEXT", false);
	else if (!strcasecmp(a, "BODY") || !strcasecmp(a, "BODY.PEEK")) {
		bool peek = strlen(a) > 4;
		if (ip_char(ip, '['))
			ok = parse_section(ip, r, peek, F_SECTION);
		else if (!peek)
			add(r, F_BODY, "BODY", NULL, true);
		else
			ok = false;
	} else if (!strcasecmp(a, "BINARY") || !strcasecmp(a, "BINARY.PEEK") ||
		   !strcasecmp(a, "BINARY.SIZE")) {
		enum fkind k = !strcasecmp(a, "BINARY.SIZE") ? F_BINSIZE : F_BINARY;
		ok = ip_char(ip, '[') && parse_section(ip, r, k == F_BINSIZE || strlen(a) > 6, k);
	} else
		ok = false;
	free(a);
	return ok;
}

static bool parse_atts(struct ip *ip, struct freq *r)
{
	if (!ip_char(ip, '('))
		return parse_att(ip, r);
	for (int i = 0; i < FETCH_MAX_ITEMS; i++) {
		if (i && ip_char(ip, ')'))
			return true;
		if (i && !ip_sp(ip))
			return false;
		if (!parse_att(ip, r))
			return false;
	}
	return false;
}

/* " (CHANGEDSINCE n [VANISHED])" (RFC 7162), modifiers in any order */
static bool parse_fetch_modifiers(struct ip *ip, struct freq *r)
{
	if (!ip_char(ip, ' '))
		return true;
	if (!ip_char(ip, '('))
		return false;
	for (int i = 0; i < 4; i++) {
		if (i && ip_char(ip, ')'))
			return r->changedsince || !r->vanished;
		if (i && !ip_sp(ip))
			return false;
		char *a = ip_atom(ip);
		bool ok = a != NULL;
		if (ok && !strcasecmp(a, "CHANGEDSINCE"))
			ok = r->changedsince = ip_sp(ip) && ip_number(ip, UINT64_MAX / 2, &r->since);
		else if (ok && !strcasecmp(a, "VANISHED"))
			r->vanished = true;
		else
			ok = false;
		free(a);
		if (!ok)
			return false;
	}
	return false;
}

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

/* The message file, CRLF-converted. NULL if it vanished. */
static char *load_message(struct mi *mi, uint32_t uid, size_t *len)
{
	struct mi_rec rec;
	if (mi_get(mi, uid, &rec) != 1)
		return NULL;
	char *path = mi_path(mi, &rec);
	mi_rec_clear(&rec);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(path);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || (uint64_t)st.st_size > MSG_READ_MAX) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	size_t n = (size_t)st.st_size;
	char *raw = xmalloc(n + 1);
	int r = read_full(fd, raw, n);
	close(fd);
	if (r < 0) {
		free(raw);
		return NULL;
	}
	char *crlf = mime_to_crlf(raw, n, len);
	free(raw);
	return crlf;
}

static void out_literal(struct evbuffer *b, const char *data, size_t len)
{
	evbuffer_add_printf(b, "{%zu}\r\n", len);
	evbuffer_add(b, data, len);
}

static void out_section(struct evbuffer *b, const struct fitem *f, struct mime_msg *m)
{
	struct mime_section sec;
	if (mime_section(m, f->section, &sec) < 0) {
		evbuffer_add(b, "NIL", 3);
		return;
	}
	struct evbuffer *tmp = NULL;
	const char *data = m->buf + sec.off;
	size_t len = sec.len;
	if (sec.kind != MIME_SEC_RANGE) {
		tmp = evbuffer_new();
		if (sec.len)
			mime_header_filter(data, len, sec.fields, sec.nfields,
					   sec.kind == MIME_SEC_FIELDS_NOT, tmp);
		else
			evbuffer_add(tmp, "\r\n", 2);
		len = evbuffer_get_length(tmp);
		data = (const char *)evbuffer_pullup(tmp, -1);
	}
	if (f->partial) {
		size_t st = f->start < len ? (size_t)f->start : len;
		size_t n = len - st < f->len ? len - st : (size_t)f->len;
		data += st;
		len = n;
	}
	out_literal(b, data ? data : "", len);
	if (tmp)
		evbuffer_free(tmp);
	mime_section_free(&sec);
}

/* BINARY[part] (RFC 3516): the part with its transfer encoding undone; a
 * literal8 (~{n}) when the bytes include NUL. false for an unknown encoding. */
static bool out_binary(struct evbuffer *b, const struct fitem *f, struct mime_msg *m)
{
	size_t len = 0;
	char *data = NULL;
	if (!*f->section) {
		data = xmalloc(m->len + 1);
		memcpy(data, m->buf, m->len);
		len = m->len;
	} else {
		const struct mime_part *p = mime_find_part(m, f->section);
		if (p && !(data = mime_part_binary(m, p, &len)))
			return false;
	}
	if (f->kind == F_BINSIZE) {
		evbuffer_add_printf(b, "%zu", len);
		free(data);
		return true;
	}
	const char *d = data ? data : "";
	if (f->partial) {
		size_t st = f->start < len ? (size_t)f->start : len;
		size_t n = len - st < f->len ? len - st : (size_t)f->len;
		d += st;
		len = n;
	}
	if (memchr(d, '\0', len))
		evbuffer_add(b, "~", 1);
	out_literal(b, d, len);
	free(data);
	return true;
}

static void out_cached(struct evbuffer *b, struct mi *mi, uint32_t uid, char which)
{
	char *c = mi_cached(mi, uid, which);
	evbuffer_add_printf(b, "%s", c ? c : "NIL");
	free(c);
}

/* One "* n FETCH (...)" response. false if the message is gone. */
static bool fetch_one(struct session *s, struct mi *mi, size_t i, struct freq *r, bool uid,
		      bool *unknown_cte)
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
	char *data = NULL;
	size_t len = 0;
	struct mime_msg *msg = NULL;
	if (r->need_body) {
		data = load_message(mi, m->uid, &len);
		if (!data) {
			mi_rec_clear(&rec);
			return false;
		}
		msg = mime_parse(data, len);
	}
	bool set_seen = r->sets_seen && !s->sel->readonly && !(m->flags & MI_SEEN);
	if (set_seen && mi_set_flags(mi, m->uid, m->flags | MI_SEEN, NULL) == 0) {
		m->flags |= MI_SEEN;
		rec.modseq = m->modseq = mi_header(mi)->modseq;
		s->sel->modseq = mi_header(mi)->modseq;
	} else {
		set_seen = false;
	}
	struct evbuffer *b = s_buf(s);
	evbuffer_add_printf(b, "* %zu FETCH (", i + 1);
	const char *sp = "";
	if (uid && !r->has_uid) {
		evbuffer_add_printf(b, "UID %u", m->uid);
		sp = " ";
	}
	for (size_t k = 0; k < r->n; k++) {
		struct fitem *f = &r->it[k];
		evbuffer_add_printf(b, "%s%s ", sp, f->name);
		sp = " ";
		char date[32];
		switch (f->kind) {
		case F_FLAGS: s_flags(b, m->flags, m->kw, m->recent); break;
		case F_UID: evbuffer_add_printf(b, "%u", m->uid); break;
		case F_SIZE: evbuffer_add_printf(b, "%llu", (unsigned long long)rec.size); break;
		case F_MODSEQ: evbuffer_add_printf(b, "(%llu)", (unsigned long long)rec.modseq); break;
		case F_INTERNALDATE:
			fmt_internaldate(rec.idate, date);
			evbuffer_add_printf(b, "\"%s\"", date);
			break;
		case F_ENVELOPE: out_cached(b, mi, m->uid, 'E'); break;
		case F_BODYSTRUCTURE: out_cached(b, mi, m->uid, 'S'); break;
		case F_BODY: out_cached(b, mi, m->uid, 'B'); break;
		case F_SECTION: out_section(b, f, msg); break;
		case F_BINARY:
		case F_BINSIZE:
			if (!out_binary(b, f, msg)) {
				evbuffer_add(b, "NIL", 3);
				*unknown_cte = true;
			}
			break;
		}
	}
	if (set_seen && !r->has_flags) {
		evbuffer_add(b, " FLAGS ", 7);
		s_flags(b, m->flags, m->kw, m->recent);
	}
	if (!r->has_modseq && (r->changedsince || (s->condstore && (r->has_flags || set_seen))))
		evbuffer_add_printf(b, " MODSEQ (%llu)", (unsigned long long)rec.modseq);
	evbuffer_add(b, ")\r\n", 3);
	mime_free(msg);
	free(data);
	mi_rec_clear(&rec);
	return true;
}

void cmd_fetch(struct session *s, struct ip *ip, bool uid)
{
	struct freq r = { 0 };
	struct seqset set = { 0 };
	char *setstr = NULL;
	if (!ip_sp(ip) || !(setstr = ip_until(ip, " ")) || !seqset_parse(setstr, &set) || !ip_sp(ip) ||
	    !parse_atts(ip, &r) || !parse_fetch_modifiers(ip, &r) || !ip_eol(ip)) {
		s_bad(s, "Syntax: FETCH set items [(CHANGEDSINCE modseq)]");
		goto out;
	}
	if (r.vanished && (!uid || !s->qresync)) {
		s_bad(s, "VANISHED needs UID FETCH and ENABLE QRESYNC");
		goto out;
	}
	if (r.has_modseq || r.changedsince)
		s->condstore = true;
	struct mi *mi = view_sync(s, uid);
	if (!mi) {
		s_no(s, "[SERVERBUG] Cannot open mailbox");
		goto out;
	}
	if (!uid && !view_seqs_valid(s->sel, &set)) {
		mi_close(mi);
		s_bad(s, "Invalid message sequence number");
		goto out;
	}
	if (r.vanished)
		fetch_vanished(s, mi, &set, r.since);
	size_t *idx;
	size_t n = view_resolve(s->sel, &set, uid, &idx);
	bool missing = false, unknown_cte = false;
	for (size_t k = 0; k < n; k++) {
		if (!fetch_one(s, mi, idx[k], &r, uid, &unknown_cte))
			missing = true;
	}
	free(idx);
	mi_close(mi);
	if (missing)
		s_no(s, "[EXPUNGEISSUED] Some messages were expunged");
	else if (unknown_cte)
		s_no(s, "[UNKNOWN-CTE] Unknown Content-Transfer-Encoding");
	else
		s_ok(s, "FETCH completed");
out:
	free(setstr);
	seqset_free(&set);
	freq_free(&r);
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
		s->condstore = true;
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
		free(m->kw);
		m->kw = nk;
		m->modseq = mi_header(mi)->modseq;
		if (!silent) {
			struct evbuffer *b = s_buf(s);
			evbuffer_add_printf(b, "* %zu FETCH (FLAGS ", idx[k] + 1);
			s_flags(b, m->flags, m->kw, m->recent);
			if (uid)
				evbuffer_add_printf(b, " UID %u", m->uid);
			s_modseq(s, b, m->modseq);
			evbuffer_add(b, ")\r\n", 3);
		}
	}
	s->sel->modseq = mi_header(mi)->modseq;
	free(idx);
	mi_close(mi);
	if (missing) {
		s_no(s, "[EXPUNGEISSUED] Some messages were expunged");
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
