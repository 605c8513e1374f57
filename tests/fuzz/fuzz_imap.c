/* fuzz_imap.c — libFuzzer target for imapd's untrusted-input parsers: the MIME
 * parser (common/mime*.c: tree, ENVELOPE, BODYSTRUCTURE, sections, decoding)
 * and the IMAP command reader and tokeniser (imapd/parser.c).
 *
 * Each input is used five times:
 *  - as a message: every rendering must stay inside the buffer, and every
 *    section range must lie within the message;
 *  - as a binary APPEND (common/mime_binary.c): unchanged unless it names
 *    the "binary" encoding somewhere;
 *  - as an address-list header value (common/mime_addr.c): at most
 *    MIME_ADDR_MAX entries, groups balanced, every address with both parts,
 *    and its search text (mime_addr_text.c) bounded, and as a string
 *    SEARCH folds (imapd/casefold.c): it contains itself, folding is stable;
 *  - as a message file for the streaming parser (common/mime_stream.c), whose
 *    tree must render as mime_parse's does;
 *  - as client input fed in chunks (sizes from the first byte): the command
 *    reader must never return more than its limits allow, and the tokeniser
 *    walks each command it returns; APPEND's grammar (MULTIAPPEND, CATENATE)
 *    parses the command so far at each literal and the whole command at its
 *    end, every token is also tried as an IMAP URL, and SEARCH/SORT
 *    commands go through the search program's parser (imapd/search_parse.c),
 *    SORT's criteria (imapd/sortkeys.c) and CANCELUPDATE's tags
 *    (imapd/search_update.c) through theirs, FETCH commands through
 *    FETCH's (imapd/fetch_parse.c); every message's PREVIEW text
 *    (common/mime_preview.c) stays within RFC 8970's bounds.
 * Run: make fuzz (long) or make fuzz-smoke (part of make check). */
#include "common/mime.h"
#include "common/mime_binconv.h"
#include "common/mime_addr.h"
#include "common/mime_binary.h"
#include "common/mime_preview.h"
#include "common/strbuf.h"
#include "common/util.h"
#include "common/mime_stream.h"
#include "imapd/append.h"
#include "imapd/fetch_parse.h"
#include "imapd/casefold.h"
#include "imapd/notify.h"
#include "imapd/metadata.h"
#include "imapd/imapurl.h"
#include "imapd/id.h"
#include "imapd/parser.h"
#include "imapd/search.h"
#include "imapd/search_update.h"
#include "imapd/sortkeys.h"
#include "imapd/thread.h"

#include <ctype.h>
#include <event2/buffer.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>

/* PREVIEW (RFC 8970): valid UTF-8, at most MIME_PREVIEW_MAX characters, no
 * control characters, spaces single and inside. */
static void check_preview(const struct mime_msg *m)
{
	char *pv = mime_preview(m);
	size_t n = strlen(pv), chars = 0;
	if (n && (pv[0] == ' ' || pv[n - 1] == ' '))
		abort();
	for (size_t i = 0; i < n; chars++) {
		size_t l = mime_utf8_char(pv + i, n - i);
		unsigned char c = (unsigned char)pv[i];
		if (!l || (l == 1 && (c < ' ' || c == 0x7f)) || (c == ' ' && pv[i + 1] == ' '))
			abort();
		i += l;
	}
	if (chars > MIME_PREVIEW_MAX || (mime_is_encrypted(m) && n))
		abort();
	free(pv);
}

static void fuzz_mime(const uint8_t *data, size_t size)
{
	size_t len;
	char *crlf = mime_to_crlf((const char *)data, size, &len);
	struct mime_msg *m = mime_parse(crlf, len);
	struct evbuffer *b = evbuffer_new();
	mime_envelope(m, m->root, b);
	mime_bodystructure(m, m->root, true, b);
	mime_bodystructure(m, m->root, false, b);
	static const char *const specs[] = { "", "1", "2", "1.1", "1.2.MIME", "2.1.HEADER", "TEXT",
					     "HEADER", "3.TEXT", "HEADER.FIELDS (FROM TO)",
					     "1.HEADER.FIELDS.NOT (SUBJECT)", "1.2.3.4.5" };
	for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) {
		struct mime_section s;
		if (mime_section(m, specs[i], &s) < 0)
			continue;
		if (s.off > len || s.len > len - s.off)
			abort();
		if (s.kind != MIME_SEC_RANGE)
			mime_header_filter(crlf + s.off, s.len, s.fields, s.nfields,
					   s.kind == MIME_SEC_FIELDS_NOT, b);
		mime_section_free(&s);
	}
	char *subj = mime_header_get(crlf, m->root->hdr_len, "subject");
	if (subj)
		free(mime_decode_words(subj));
	free(subj);
	free(mime_param_decoded(m->root->params, m->root->nparams, "name"));
	size_t tl;
	const struct mime_part *p = m->root->children ? m->root->children : m->root;
	free(mime_body_text(m, p, &tl));
	check_preview(m);
	evbuffer_free(b);
	mime_free(m);
	free(crlf);
}

static int count_octets(void *arg, const char *p, size_t n)
{
	*(uint64_t *)arg += n;
	return 0;
}

/* The streaming parser on the same octets as a file: its tree must agree
 * with mime_parse's (below the part limit, where the two may cut apart), and
 * every chunked decoding must stay in bounds. */
static void fuzz_mime_stream(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz", 0);
	if (fd < 0 || write(fd, data, size) != (ssize_t)size) {
		if (fd >= 0)
			close(fd);
		return;
	}
	uint64_t clen;
	struct mime_msg *m = mime_parse_fd(fd, UINT64_MAX, &clen);
	size_t len;
	char *crlf = mime_to_crlf((const char *)data, size, &len);
	struct mime_msg *ref = mime_parse(crlf, len);
	struct evbuffer *a = evbuffer_new(), *b = evbuffer_new();
	mime_bodystructure(m, m->root, true, a);
	mime_bodystructure(ref, ref->root, true, b);
	mime_envelope(m, m->root, a);
	mime_envelope(ref, ref->root, b);
	if (clen != len || (ref->nparts < MIME_MAX_PARTS / 2 &&
			    (evbuffer_get_length(a) != evbuffer_get_length(b) ||
			     memcmp(evbuffer_pullup(a, -1), evbuffer_pullup(b, -1), evbuffer_get_length(a)))))
		abort();
	const struct mime_part *p = m->root->children ? m->root->children : m->root;
	struct mstream_dec d;
	if (mstream_dec_init(&d, p->enc)) {
		struct crlf_reader *r = malloc(sizeof *r);
		crlf_reader_init(r, fd, p->body_off, p->body_len);
		char in[100], out[100 + MSTREAM_DEC_SLACK];
		ssize_t k;
		while ((k = crlf_read(r, in, sizeof in)) > 0)
			mstream_dec_run(&d, in, (size_t)k, false, out);
		mstream_dec_run(&d, "", 0, true, out);
		free(r);
	}
	/* every transfer encoding undone: never more than the decoders allow */
	uint64_t out = 0;
	if (mime_binary_convert(m, fd, m->root, count_octets, &out) == 0 && out > 2 * clen + 64)
		abort();
	evbuffer_free(a);
	evbuffer_free(b);
	mime_free(ref);
	free(crlf);
	mime_stream_free(m);
	close(fd);
}

static void walk(const char *buf, size_t len)
{
	struct ip ip;
	ip_init(&ip, buf, len);
	free(ip_tag(&ip));
	for (int i = 0; i < 64 && !ip.bad && !ip_eol(&ip); i++) {
		ip_char(&ip, ' ');
		if (ip_char(&ip, '(') || ip_char(&ip, ')'))
			continue;
		size_t n;
		char *s = i % 3 == 0 ? ip_astring(&ip, &n) : i % 3 == 1 ? ip_listmbox(&ip) : ip_until(&ip, " ()");
		if (s) {
			struct imap_url u;
			if (imap_url_parse(s, &u) == 0) {
				if (u.rump_len > strlen(s) || (u.partial && !u.uid))
					abort();
				free(imap_url_owner(&u));
				imap_url_free(&u);
			}
			struct seqset set;
			if (seqset_parse(s, &set)) {
				seqset_has(&set, 5, 10);
				seqset_free(&set);
			}
		}
		free(s);
	}
}

/* SEARCH's and SORT's arguments: RETURN options (a PARTIAL range comes out
 * ordered and non-zero) and the search program (bounded by the parser). */
static void search_args(struct evbuffer *cmd, bool latin1)
{
	struct ip ip;
	ip_init(&ip, (const char *)evbuffer_pullup(cmd, -1), evbuffer_get_length(cmd));
	char *tag = ip_tag(&ip), *name = tag && ip_sp(&ip) ? ip_atom(&ip) : NULL;
	if (name && !strcasecmp(name, "UID")) {
		free(name);
		name = ip_sp(&ip) ? ip_atom(&ip) : NULL;
	}
	if (name && (!strcasecmp(name, "SEARCH") || !strcasecmp(name, "SORT")) && ip_sp(&ip)) {
		struct search_ret r;
		const char *at = ip.p;
		char *w = ip_atom(&ip);
		bool given = w && !strcasecmp(w, "RETURN");
		free(w);
		if (!given)
			ip.p = at, ip.bad = false;
		bool retok = !given || (ip_sp(&ip) && search_parse_return(&ip, &r));
		if (given && retok && (r.opts & RET_PARTIAL) && (!r.plo || r.plo > r.phi))
			abort();
		struct sort_program sp;
		if (retok && !strcasecmp(name, "SORT") && sort_parse_criteria(&ip, &sp)) {
			if (sp.n == 0 || sp.n > SORT_MAX_CRITERIA)
				abort();
			char *charset = ip_sp(&ip) ? ip_astring(&ip, NULL) : NULL;	/* as cmd_sort.c */
			if (charset)
				ip_sp(&ip);
			free(charset);
		}
		bool badcharset, modseq;
		skey_free(search_parse(&ip, latin1 ? "iso-8859-1" : NULL, &badcharset, &modseq));
	}
	if (name && !strcasecmp(name, "CANCELUPDATE")) {
		char *tags[CANCELUPDATE_MAX_TAGS];
		size_t n = cancelupdate_parse(&ip, tags);
		if (n > CANCELUPDATE_MAX_TAGS)
			abort();
		while (n)
			free(tags[--n]);
	}
	free(tag);
	free(name);
}

/* FETCH's arguments (imapd/fetch_parse.c): at most FETCH_MAX_ITEMS items,
 * LAZY only on PREVIEW. */
static void fetch_args(struct evbuffer *cmd)
{
	struct ip ip;
	ip_init(&ip, (const char *)evbuffer_pullup(cmd, -1), evbuffer_get_length(cmd));
	char *tag = ip_tag(&ip), *name = tag && ip_sp(&ip) ? ip_atom(&ip) : NULL, *set = NULL;
	if (name && !strcasecmp(name, "UID")) {
		free(name);
		name = ip_sp(&ip) ? ip_atom(&ip) : NULL;
	}
	if (name && !strcasecmp(name, "FETCH") && ip_sp(&ip) && (set = ip_until(&ip, " ")) && ip_sp(&ip)) {
		struct freq r = { 0 };
		if (fetch_parse_atts(&ip, &r))
			fetch_parse_modifiers(&ip, &r);
		if (r.n > FETCH_MAX_ITEMS)
			abort();
		for (size_t i = 0; i < r.n; i++)
			if (r.it[i].lazy && r.it[i].kind != F_PREVIEW)
				abort();
		freq_free(&r);
	}
	free(set);
	free(tag);
	free(name);
}

/* APPEND's arguments, on the command so far (prefix: it ends in a literal
 * announcement) or whole; the messages and parts stay within the limits. */
static enum append_parsed append_args(struct evbuffer *cmd, bool prefix)
{
	struct ip ip;
	ip_init(&ip, (const char *)evbuffer_pullup(cmd, -1), evbuffer_get_length(cmd));
	char *tag = ip_tag(&ip), *name = NULL;
	enum append_parsed r = AP_OTHER;
	if (tag && ip_sp(&ip) && (name = ip_atom(&ip)) && !strcasecmp(name, "APPEND")) {
		struct append_cmd c;
		r = append_parse(&ip, prefix, &c);
		if (c.n > APPEND_MAX_MESSAGES)
			abort();
		for (size_t i = 0; i < c.n; i++)
			if (c.m[i].nparts > CATENATE_MAX_PARTS || (r == AP_DONE && c.m[i].nparts == 0))
				abort();
		append_cmd_free(&c);
	}
	free(tag);
	free(name);
	return r;
}

/* MessageNew's attribute list: balanced parentheses will do here (FETCH's
 * own parser is not part of this target) */
static bool any_fetch_att(const char *atts)
{
	return atts[0] == '(';
}

/* NOTIFY's arguments (notify_parse.c) within its bounds. */
static void notify_args(struct evbuffer *cmd)
{
	struct ip ip;
	ip_init(&ip, (const char *)evbuffer_pullup(cmd, -1), evbuffer_get_length(cmd));
	char *tag = ip_tag(&ip), *name = NULL;
	if (tag && ip_sp(&ip) && (name = ip_atom(&ip)) && !strcasecmp(name, "NOTIFY")) {
		enum notify_parsed res;
		const char *err;
		struct notify_spec *sp = notify_parse(&ip, any_fetch_att, &res, &err);
		if ((res == NP_SET) != (sp != NULL))
			abort();
		size_t names = 0;
		for (size_t g = 0; sp && g < sp->ngroups; g++)
			names += sp->groups[g].nnames;
		if (sp && (sp->ngroups > NOTIFY_MAX_GROUPS || names > NOTIFY_MAX_NAMES ||
			   (sp->fetch_att && strlen(sp->fetch_att) > NOTIFY_MAX_FETCH_ATT)))
			abort();
		notify_spec_free(sp);
	}
	free(tag);
	free(name);
}

/* GETMETADATA / SETMETADATA arguments (metadata_parse.c): every entry kept
 * is a valid, lower-case name, within the bounds of metadata.h. */
static void metadata_args(struct evbuffer *cmd)
{
	struct ip ip;
	ip_init(&ip, (const char *)evbuffer_pullup(cmd, -1), evbuffer_get_length(cmd));
	char *tag = ip_tag(&ip), *name = NULL;
	bool get = false, set = false;
	if (tag && ip_sp(&ip) && (name = ip_atom(&ip))) {
		get = !strcasecmp(name, "GETMETADATA");
		set = !strcasecmp(name, "SETMETADATA");
	}
	struct md_req r = { 0 };
	const char *why;
	int rc = get ? md_parse_get(&ip, &r, &why) : set ? md_parse_set(&ip, &r, &why) : -1;
	if (rc == 0 && (r.nentries > MD_MAX_ARGS || r.changes.n > MD_MAX_ARGS || !r.mailbox))
		abort();
	for (size_t i = 0; rc == 0 && i < r.nentries + r.changes.n; i++) {
		bool change = i >= r.nentries;	/* SETMETADATA: never a bare /private */
		const char *e = change ? r.changes.e[i - r.nentries].name : r.entries[i];
		char *copy = xstrdup(e);
		if (!md_entry_valid(copy, !change, &why) || strcmp(copy, e))
			abort();
		free(copy);
	}
	md_req_free(&r);
	free(tag);
	free(name);
}

/* ID's arguments (RFC 2971 limits); true if the command is an ID. */
static bool id_args(struct evbuffer *cmd)
{
	struct ip ip;
	ip_init(&ip, (const char *)evbuffer_pullup(cmd, -1), evbuffer_get_length(cmd));
	char *tag = ip_tag(&ip), *name = NULL;
	bool id = tag && ip_sp(&ip) && (name = ip_atom(&ip)) && !strcasecmp(name, "ID");
	if (id)
		id_check(&ip);
	free(tag);
	free(name);
	return id;
}

static void fuzz_commands(const uint8_t *data, size_t size)
{
	struct cmdreader r;
	cr_init(&r, 512, 2048, 4096);
	struct evbuffer *in = evbuffer_new();
	size_t chunk = size ? (size_t)data[0] % 64 + 1 : 1;
	for (size_t off = 0; off < size; off += chunk) {
		evbuffer_add(in, data + off, size - off < chunk ? size - off : chunk);
		for (int guard = 0; guard < 1000; guard++) {
			char tag[64];
			enum cr_status st = cr_feed(&r, in, tag, sizeof tag);
			if (st == CR_MORE)
				break;
			if (st == CR_APPEND_LITERAL) {
				if (append_args(r.cmd, true) == AP_OTHER)
					cr_inline(&r);	/* a mailbox name or URL */
				else if (data[0] & 1)
					cr_spool(&r, -1);	/* dropped, as a refused APPEND */
				else if (data[0] & 2)
					cr_spool_raw(&r, -1);	/* a literal8, dropped */
				else
					cr_inline(&r);
			}
			if (st == CR_DONE) {
				size_t n = evbuffer_get_length(r.cmd);
				bool id = id_args(r.cmd);
				if (n > (id ? 2 * CR_ID_MAX : 2048 + 4096 + 512))
					abort();
				walk((const char *)evbuffer_pullup(r.cmd, -1), n);
				append_args(r.cmd, false);
				search_args(r.cmd, data[0] & 2);
				fetch_args(r.cmd);
				notify_args(r.cmd);
				metadata_args(r.cmd);
				cr_reset(&r);
			}
			if (st == CR_FATAL)
				goto out;
		}
	}
out:
	evbuffer_free(in);
	cr_free(&r);
}

/* THREAD=REFERENCES over message-ids and references taken from the input's
 * lines: loops, duplicates and self-references must not hang or crash it. */
static void fuzz_thread(const uint8_t *data, size_t size)
{
	char *copy = strndup((const char *)data, size);
	struct thread_msg m[64];
	size_t n = 0;
	char *save = NULL;
	for (char *l = strtok_r(copy, "\n", &save); l && n < 64; l = strtok_r(NULL, "\n", &save)) {
		char *sp = strchr(l, ' ');
		m[n] = (struct thread_msg){ l, sp ? sp + 1 : NULL, n % 3 ? "s" : "t", (int64_t)(n * 7 % 5),
					    n % 2 == 0, (uint32_t)n + 1, n % 4 ? NULL : l };
		if (sp)
			*sp = '\0';
		n++;
	}
	struct evbuffer *b = evbuffer_new();
	thread_references(b, m, n, size & 1);
	evbuffer_free(b);
	free(copy);
}

static int collect(void *arg, const char *p, size_t n)
{
	strbuf_add(arg, p, n);
	return 0;
}

static void fuzz_binary(const uint8_t *data, size_t size)
{
	struct strbuf out = { 0 };
	if (mime_binary_encode((const char *)data, size, collect, &out) < 0)
		abort();
	char *lower = malloc(size + 1);
	for (size_t i = 0; i < size; i++)
		lower[i] = (char)tolower((unsigned char)data[i]);
	if (!memmem(lower, size, "binary", 6) && (out.len != size || (size && memcmp(out.p, data, size))))
		abort();
	free(lower);
	free(out.p);
}

static void fuzz_addr(const uint8_t *data, size_t size)
{
	char *v = strndup((const char *)data, size);
	struct mime_addr *a;
	size_t n = mime_addr_parse(v, &a);
	bool in_group = false;
	if (n > MIME_ADDR_MAX)
		abort();
	for (size_t i = 0; i < n; i++) {
		if (a[i].host) {
			if (!a[i].mailbox)
				abort();
		} else if (!in_group && !a[i].mailbox) {
			abort();	/* an end marker outside a group */
		} else {
			in_group = !in_group;
		}
	}
	if (in_group)
		abort();
	mime_addr_free(a, n);
	/* the text SEARCH matches: never longer than the entries could make
	 * it (decoded names grow at most threefold) */
	char *t = mime_addr_text(v);
	if (strlen(t) > size * 3 + 8 * MIME_ADDR_MAX)
		abort();
	free(t);
	free(v);
}

/* SEARCH's Unicode case folding (imapd/casefold.c) on any octets: a string
 * always contains itself, and its folded form folds to itself again. */
static void fuzz_casefold(const uint8_t *data, size_t size)
{
	char *v = strndup((const char *)data, size);
	size_t n = strlen(v), fl, ffl;
	if (!casefold_contains(v, n, v))
		abort();
	char *f = casefold_utf8(v, n, &fl);
	char *ff = f ? casefold_utf8(f, fl, &ffl) : NULL;
	if (f && (!ff || ffl != fl || memcmp(f, ff, fl)))
		abort();
	free(ff);
	free(f);
	free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_casefold(data, size);
	fuzz_thread(data, size);
	fuzz_addr(data, size);
	fuzz_binary(data, size);
	fuzz_mime(data, size);
	fuzz_mime_stream(data, size);
	fuzz_commands(data, size);
	return 0;
}
